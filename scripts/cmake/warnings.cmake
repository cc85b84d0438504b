# ustack_warnings: an INTERFACE target every ustack target links PRIVATE.
# -Werror only when CI is set, so a newer compiler's new warning never blocks a user build.
add_library(ustack_warnings INTERFACE)
target_compile_options(ustack_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wno-missing-field-initializers -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough)
if(DEFINED ENV{CI})
  target_compile_options(ustack_warnings INTERFACE -Werror)
endif()

# USTACK_SANITIZE: e.g. -DUSTACK_SANITIZE=address,undefined
set(USTACK_SANITIZE "" CACHE STRING "Comma-separated -fsanitize= list (empty: off)")
if(USTACK_SANITIZE)
  add_compile_options(-fsanitize=${USTACK_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${USTACK_SANITIZE})
  if(USTACK_SANITIZE MATCHES "thread")
    # GCC warns (-Wtsan) that TSan does not model std::atomic_thread_fence, which Boost.Asio's
    # scheduler uses. What it misses can only add reports (false positives), never hide one.
    add_compile_options(-Wno-tsan)
  endif()
endif()
