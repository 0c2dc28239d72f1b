# Azure Blob engine (azure.h): libcurl + SharedKey (azure_auth.h).
target_sources(pgm_storage PRIVATE azure.cc azure_auth.cc)
target_compile_definitions(pgm_storage PRIVATE PGM_STORAGE_HAVE_AZURE)
target_link_libraries(pgm_storage PRIVATE CURL::libcurl OpenSSL::Crypto pgm_crypto)
pgm_add_test(NAME storage_azure_auth_test SOURCES azure_auth_test.cc LIBS pgm_storage)
pgm_add_test(NAME storage_azure_test SOURCES azure_test.cc LIBS pgm_storage pgm_test_storage_servers
             LABEL integration TIMEOUT 300)
