# CAF 0.17 ships neither a CMake config nor a pkg-config file: this makes its imported
# targets CAF::core, CAF::io and CAF::openssl. Used by Mephisto's own build and by the
# installed mephistoConfig.cmake. MEPHISTO_CAF_ROOT (optional) is the install prefix of
# another build of the same version, e.g. the ThreadSanitizer build of `make tsan`.
if(TARGET CAF::core)
  return()
endif()
if(MEPHISTO_CAF_ROOT)
  find_path(CAF_INCLUDE_DIR caf/all.hpp PATHS ${MEPHISTO_CAF_ROOT}/include NO_DEFAULT_PATH)
  find_library(CAF_CORE_LIBRARY caf_core PATHS ${MEPHISTO_CAF_ROOT}/lib NO_DEFAULT_PATH)
  find_library(CAF_IO_LIBRARY caf_io PATHS ${MEPHISTO_CAF_ROOT}/lib NO_DEFAULT_PATH)
  find_library(CAF_OPENSSL_LIBRARY caf_openssl PATHS ${MEPHISTO_CAF_ROOT}/lib NO_DEFAULT_PATH)
else()
  find_path(CAF_INCLUDE_DIR caf/all.hpp)
  find_library(CAF_CORE_LIBRARY caf_core)
  find_library(CAF_IO_LIBRARY caf_io)
  find_library(CAF_OPENSSL_LIBRARY caf_openssl)
endif()
if(NOT CAF_INCLUDE_DIR OR NOT CAF_CORE_LIBRARY OR NOT CAF_IO_LIBRARY OR NOT CAF_OPENSSL_LIBRARY)
  message(FATAL_ERROR "CAF 0.17 not found (caf_core, caf_io, caf_openssl and caf/all.hpp): "
                      "apt-get install libcaf-dev")
endif()
file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" _caf_version_line REGEX "^#define CAF_VERSION [0-9]+")
string(REGEX REPLACE ".* ([0-9]+)$" "\\1" CAF_VERSION_NUM "${_caf_version_line}")
if(CAF_VERSION_NUM VERSION_LESS 1700 OR CAF_VERSION_NUM VERSION_GREATER_EQUAL 1800)
  message(FATAL_ERROR "Mephisto needs CAF 0.17.x, found ${CAF_VERSION_NUM} in ${CAF_INCLUDE_DIR}")
endif()
find_package(Threads REQUIRED)
add_library(CAF::core SHARED IMPORTED)
set_target_properties(CAF::core PROPERTIES IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}" INTERFACE_LINK_LIBRARIES Threads::Threads)
add_library(CAF::io SHARED IMPORTED)
set_target_properties(CAF::io PROPERTIES IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
  INTERFACE_LINK_LIBRARIES CAF::core)
add_library(CAF::openssl SHARED IMPORTED)
set_target_properties(CAF::openssl PROPERTIES IMPORTED_LOCATION "${CAF_OPENSSL_LIBRARY}"
  INTERFACE_LINK_LIBRARIES CAF::io)
