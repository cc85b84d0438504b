// libustack.so has no code of its own: its functions are the WSP/WSA C API of ustack/wsp.h,
// defined in stack/src/api and tun/src and linked whole from their archives (CMakeLists.txt).
// CMake needs a source to make a library target; this is it.
