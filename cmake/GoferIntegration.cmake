# GoferIntegration.cmake: the C client libraries of the integration tests and samples (real
# clients against real servers: tests/integration/, samples/redis_fanout.cpp, pg_query.cpp),
# found through pkg-config from Debian's libhiredis-dev, libpq-dev and libcurl4-openssl-dev,
# which `scripts/setup.sh --integration` installs with the servers.
#
# GOFER_INTEGRATION_TESTS: AUTO (default) builds them when all three libraries are found and
# warns, naming what is missing, when not; ON makes a missing library a configure error; OFF
# leaves them out. Sets gofer_integration (ON/OFF) and, when ON, the imported targets
# PkgConfig::gofer_hiredis, PkgConfig::gofer_libpq and PkgConfig::gofer_libcurl.
set(GOFER_INTEGRATION_TESTS AUTO CACHE STRING
  "Real-server tests and samples (hiredis, libpq, libcurl): AUTO, ON or OFF")
set_property(CACHE GOFER_INTEGRATION_TESTS PROPERTY STRINGS AUTO ON OFF)

set(gofer_integration OFF)
if(NOT GOFER_INTEGRATION_TESTS STREQUAL "OFF")
  find_package(PkgConfig QUIET)
  set(missing)
  foreach(pair "hiredis;libhiredis-dev" "libpq;libpq-dev" "libcurl;libcurl4-openssl-dev")
    list(GET pair 0 module)
    list(GET pair 1 package)
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(gofer_${module} QUIET IMPORTED_TARGET ${module})
    endif()
    if(NOT TARGET PkgConfig::gofer_${module})
      list(APPEND missing ${package})
    endif()
  endforeach()
  if(missing)
    set(why "the integration tests need ${missing} (and pkg-config): run \
scripts/setup.sh --integration, or configure with -DGOFER_INTEGRATION_TESTS=OFF")
    if(GOFER_INTEGRATION_TESTS STREQUAL "ON")
      message(FATAL_ERROR "GOFER_INTEGRATION_TESTS=ON but ${why}")
    endif()
    message(WARNING "Integration tests and samples left out: ${why}")
  else()
    set(gofer_integration ON)
  endif()
endif()
