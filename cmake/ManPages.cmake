# Manual pages, made by pandoc from the reference pages in docs/ so that they cannot drift from
# them. Each page is the conversion of its head and tail (docs/man/<page>.md: NAME, ENVIRONMENT,
# FILES, SEE ALSO) followed by the reference page; docs/man/man.lua turns the Markdown written
# for GitHub into man conventions. See docs/man/README.md.
#
# Target `man` (part of ALL) writes ${CMAKE_BINARY_DIR}/man/man1/*.1 and man5/*.5; they are
# installed under ${CMAKE_INSTALL_MANDIR}. Without pandoc there is no target, and the test
# ContribTest.ManPages skips.

find_program(PANDOC_EXECUTABLE pandoc)
if(NOT PANDOC_EXECUTABLE)
  message(STATUS "pandoc not found: the manual pages (target man) are not built; "
                 "install the Debian package pandoc (scripts/install-deps.sh does)")
  return()
endif()

include(GNUInstallDirs)

# <page>.<section>:<reference page in docs/, without .md>
set(PGM_MAN_PAGES
    pgmoneta.1:pgmoneta
    pgmoneta-cli.1:pgmoneta-cli
    pgmoneta-admin.1:pgmoneta-admin
    pgmoneta-config.1:pgmoneta-config
    pgmoneta-walinfo.1:pgmoneta-walinfo
    pgmoneta-walfilter.1:pgmoneta-walfilter
    pgmoneta.conf.5:configuration
    pgmoneta_cli.conf.5:cli-configuration)

set(_pgm_man_docs ${PROJECT_SOURCE_DIR}/docs)
set(_pgm_man_filter ${_pgm_man_docs}/man/man.lua)
set(_pgm_man_outputs)
foreach(entry IN LISTS PGM_MAN_PAGES)
  string(REPLACE ":" ";" parts "${entry}")
  list(GET parts 0 page)
  list(GET parts 1 reference)
  string(REGEX MATCH "[0-9]+$" section "${page}")
  set(header ${_pgm_man_docs}/man/${page}.md)
  set(body ${_pgm_man_docs}/${reference}.md)
  set(output ${CMAKE_BINARY_DIR}/man/man${section}/${page})
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man/man${section}
    COMMAND ${PANDOC_EXECUTABLE} --from=gfm --to=man --standalone
            --lua-filter=${_pgm_man_filter}
            "--metadata=footer:pgmoneta for C++ ${PROJECT_VERSION}"
            --output=${output} ${header} ${body}
    DEPENDS ${header} ${body} ${_pgm_man_filter}
    COMMENT "Generating man page ${page}"
    VERBATIM)
  list(APPEND _pgm_man_outputs ${output})
  install(FILES ${output} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()

add_custom_target(man ALL DEPENDS ${_pgm_man_outputs})
