# S3 engine: libcurl + AWS Signature Version 4 (see s3.h, sigv4.h).
target_sources(pgm_storage PRIVATE s3.cc sigv4.cc)
target_compile_definitions(pgm_storage PRIVATE PGM_STORAGE_HAVE_S3)
target_link_libraries(pgm_storage PRIVATE CURL::libcurl OpenSSL::Crypto)
pgm_add_test(NAME storage_sigv4_test SOURCES sigv4_test.cc LIBS pgm_storage)
pgm_add_test(NAME storage_s3_test SOURCES s3_test.cc
             LIBS pgm_storage pgm_test_storage_servers OpenSSL::Crypto LABEL integration TIMEOUT 300)
