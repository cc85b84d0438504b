# Debian packages from the install components (`cpack -G DEB` in the build directory; included
# last from the top CMakeLists.txt, once every component is known):
#   libustack0      lib     libustack.so.0
#   libustack-dev   dev     ustack/wsp.h, libustack.so, the CMake package, ustack.pc
#   ustack-tools    tools   the four tools, ustack-netns-up/-down, the dissector, man pages
#   python3-ustack  python  the Python module (when it was built)
set(CPACK_PACKAGE_NAME ustack)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "ustack")
set(CPACK_PACKAGE_CONTACT "ustack developers <ustack@example.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "userspace TCP/IPv4 stack with Winsock's connection shutdown model and disconnect data")
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_STRIP_FILES ON)  # the build type may carry debug information
# Depends from the ELF files' needs (dpkg-shlibdeps); libustack0 gets a shlibs file so the
# packages built with it depend on it.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_BINARY_DIR}/dist)
set(USTACK_DEB_VERSION "${PROJECT_VERSION}")

set(CPACK_COMPONENTS_ALL lib dev tools)
set(CPACK_DEBIAN_LIB_PACKAGE_NAME libustack0)
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_LIB_DESCRIPTION
  "ustack's shared library: the WSP/WSA C API of ustack/wsp.h over a userspace TCP/IPv4 stack")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libustack-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libustack0 (= ${USTACK_DEB_VERSION})")
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "ustack's header, CMake package (find_package(ustack)) and pkg-config file")
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME ustack-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_RECOMMENDS "iproute2, nftables")
set(CPACK_DEBIAN_TOOLS_PACKAGE_SUGGESTS "tshark")
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
  "ustack's tools (txn-server, txn-client, wsp-shell, ustack-peer), the two-host network scripts and the Wireshark dissector")
if(TARGET _ustack)
  list(APPEND CPACK_COMPONENTS_ALL python)
  set(CPACK_DEBIAN_PYTHON_PACKAGE_NAME python3-ustack)
  set(CPACK_DEBIAN_PYTHON_PACKAGE_SECTION python)
  # The extension is built for one Python version (its ABI): depend on that one.
  string(REPLACE "." ";" USTACK_PY_PARTS "${USTACK_PYTHON_VERSION}")
  list(GET USTACK_PY_PARTS 0 USTACK_PY_MAJOR)
  list(GET USTACK_PY_PARTS 1 USTACK_PY_MINOR)
  math(EXPR USTACK_PY_NEXT_MINOR "${USTACK_PY_MINOR} + 1")
  set(USTACK_PY_THIS "${USTACK_PYTHON_VERSION}")
  set(USTACK_PY_NEXT "${USTACK_PY_MAJOR}.${USTACK_PY_NEXT_MINOR}")
  set(CPACK_DEBIAN_PYTHON_PACKAGE_DEPENDS
    "libustack0 (= ${USTACK_DEB_VERSION}), python3 (>= ${USTACK_PY_THIS}), python3 (<< ${USTACK_PY_NEXT})")
  set(CPACK_COMPONENT_PYTHON_DESCRIPTION "ustack's Python module (import ustack)")
endif()
include(CPack)
