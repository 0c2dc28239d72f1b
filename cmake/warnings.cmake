# Compiler warnings for our own targets. -Werror comes on with PGM_WERROR (CI).
add_library(pgm_warnings INTERFACE)
target_compile_options(pgm_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow)
if(PGM_WERROR)
  target_compile_options(pgm_warnings INTERFACE -Werror)
endif()
if(PGM_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# Hardening, as Debian builds its packages (dpkg-buildflags: hardening=+all): stack protector,
# fortified libc calls (they need optimization, so not in Debug), full RELRO with immediate
# binding. The compilers here make position-independent executables by default.
option(PGM_HARDENING "Build with the hardening flags of Debian packages" ON)
if(PGM_HARDENING AND NOT PGM_SANITIZE)
  add_compile_options(-fstack-protector-strong -fstack-clash-protection
                      $<$<NOT:$<CONFIG:Debug>>:-U_FORTIFY_SOURCE>
                      $<$<NOT:$<CONFIG:Debug>>:-D_FORTIFY_SOURCE=2>)
  add_link_options(-Wl,-z,relro -Wl,-z,now)
endif()
