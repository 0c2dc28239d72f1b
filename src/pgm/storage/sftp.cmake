# SFTP engine (libssh), tested against a real OpenSSH sshd started by the test fixture.
target_sources(pgm_storage PRIVATE sftp.cc sftp_connection.cc)
target_compile_definitions(pgm_storage PRIVATE PGM_STORAGE_HAVE_SFTP)
target_link_libraries(pgm_storage PRIVATE PkgConfig::LIBSSH)
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/sftp_test.cc)
  pgm_add_test(NAME storage_sftp_test SOURCES sftp_test.cc
               LIBS pgm_storage pgm_test_storage_servers pgm_core fmt::fmt LABEL integration
               TIMEOUT 300)
endif()
