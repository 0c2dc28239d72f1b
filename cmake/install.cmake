# Install rules (`cmake --install <build>`, GNUInstallDirs). With --prefix /usr the layout is
# Debian's: programs in /usr/bin, the examples, the docs and the Grafana dashboard in
# /usr/share/doc/pgmoneta, bash completion where bash-completion loads it by command name, the
# systemd unit in /usr/lib/systemd/system. The logrotate snippet goes to <prefix>/etc; for
# prefix /usr, scripts/package-deb.sh moves that to /etc (GNUInstallDirs' own rule for /usr).
# Man pages: cmake/ManPages.cmake.
include(GNUInstallDirs)

set(PGM_DOCDIR ${CMAKE_INSTALL_DATADIR}/doc/pgmoneta)

install(TARGETS pgmoneta pgmoneta-cli pgmoneta-admin pgmoneta-config pgmoneta-walinfo
                pgmoneta-walfilter
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(FILES contrib/etc/pgmoneta.conf contrib/etc/pgmoneta_cli.conf contrib/etc/pgmoneta_walinfo.conf
              contrib/etc/pgmoneta_walfilter.conf contrib/etc/pgmoneta_walfilter.yaml
        DESTINATION ${PGM_DOCDIR}/examples)
install(FILES contrib/grafana/pgmoneta.json contrib/grafana/README.md
        DESTINATION ${PGM_DOCDIR}/grafana)
install(FILES README.md DESTINATION ${PGM_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${PGM_DOCDIR}/docs FILES_MATCHING PATTERN "*.md")

# One script completes the three programs; bash-completion finds it by the command's name.
install(FILES contrib/bash-completion/pgmoneta-cli
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES contrib/bash-completion/pgmoneta-cli
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME pgmoneta-admin)
install(FILES contrib/bash-completion/pgmoneta-cli
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME pgmoneta-config)
# pgmoneta-walinfo has no commands or servers to complete: a script of its own.
install(FILES contrib/bash-completion/pgmoneta-walinfo
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
# pgmoneta-walfilter takes one YAML file: a script of its own.
install(FILES contrib/bash-completion/pgmoneta-walfilter
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

install(FILES contrib/systemd/pgmoneta.service DESTINATION lib/systemd/system)
install(FILES contrib/logrotate/pgmoneta DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/logrotate.d)
