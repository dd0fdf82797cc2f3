# gofer_add_test(name [SOURCES extra.cpp ...]): builds tests/<name>_test.cpp (plus SOURCES)
# into the executable <name>_test, linked with gofer, GoogleTest and gofer_test_main (GoogleTest's
# main with the deadlock watchdog set to abort: tests/support/test_main.cpp), with lib/ on the
# include path so a test can reach a module's private header, and registers each TEST with
# CTest (60 s timeout each).
include(GoogleTest)

add_library(gofer_test_main OBJECT ${CMAKE_CURRENT_LIST_DIR}/../tests/support/test_main.cpp)
target_link_libraries(gofer_test_main PRIVATE gofer::gofer GTest::gtest)
gofer_set_warnings(gofer_test_main)

function(gofer_add_test name)
  cmake_parse_arguments(arg "" "" "SOURCES" ${ARGN})
  add_executable(${name}_test ${name}_test.cpp ${arg_SOURCES})
  target_link_libraries(${name}_test PRIVATE gofer::gofer GTest::gtest gofer_test_main)
  target_include_directories(${name}_test PRIVATE ${PROJECT_SOURCE_DIR}/lib
    ${CMAKE_CURRENT_SOURCE_DIR})
  gofer_set_warnings(${name}_test)
  gtest_discover_tests(${name}_test PROPERTIES TIMEOUT 60 DISCOVERY_TIMEOUT 30)
endfunction()
