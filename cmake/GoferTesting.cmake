# gofer_add_test(name [SOURCES extra.cpp ...]): builds tests/<name>_test.cpp (plus SOURCES)
# into the executable <name>_test, linked with gofer and GoogleTest, with lib/ on the include
# path so a test can reach a module's private header, and registers each TEST with CTest
# (60 s timeout each).
include(GoogleTest)

function(gofer_add_test name)
  cmake_parse_arguments(arg "" "" "SOURCES" ${ARGN})
  add_executable(${name}_test ${name}_test.cpp ${arg_SOURCES})
  target_link_libraries(${name}_test PRIVATE gofer::gofer GTest::gtest GTest::gtest_main)
  target_include_directories(${name}_test PRIVATE ${PROJECT_SOURCE_DIR}/lib
    ${CMAKE_CURRENT_SOURCE_DIR})
  gofer_set_warnings(${name}_test)
  gtest_discover_tests(${name}_test PROPERTIES TIMEOUT 60 DISCOVERY_TIMEOUT 30)
endfunction()
