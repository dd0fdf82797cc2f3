# gofer_set_warnings(target): gofer's warning flags, PRIVATE to the target.
function(gofer_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference)
  if(GOFER_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
