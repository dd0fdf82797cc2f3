// nimgo_tour: the example of NimGo's README, ported line by line to gofer.
//
// Run: build/samples/nimgo_tour [file]   (reads its own source by default; type something
// within 500 ms at the end, or not)
#include <cstdio>
#include <iostream>
#include <string>
#include <system_error>
#include <vector>

#include <gofer/gofer.hpp>

using namespace std::chrono_literals;

// Basic I/O
void read_and_print(gofer::File& file) {
  // read_and_print is suspended until file.read_line() returns
  std::cout << "MYLINE=" << file.read_line().value_or("") << "\n";
  // read_all runs as its own task; read_and_print can go on meanwhile
  gofer::Task<std::string> read_task = gofer::go([&file] { return file.read_all(); });
  // we finally want its data: read_and_print is suspended until read_task is done
  std::cout << "UNREADLENGTH=" << gofer::wait(read_task).size() << "\n";
}

void print_in_disorder(int sleep_ms) {
  gofer::sleep_for(std::chrono::milliseconds(sleep_ms));
  std::cout << "> I woke up after " << sleep_ms << "ms\n";
}

int main(int argc, char** argv) {
  const std::string my_file_path = argc > 1 ? argv[1] : __FILE__;

  gofer::with_event_loop([&] {
    auto my_file = gofer::File::open(my_file_path);
    gofer::go_and_wait(read_and_print, std::ref(my_file));
    std::cout << "I'm not waiting for read_and_print to finish !\n";
    std::cout << "But `with_event_loop` ensures all registered tasks are executed\n";
    my_file.close();
  });

  // Coroutines communication: returning a value
  {
    auto get_first_line = [](gofer::File& f) { return f.read_line().value_or(""); };
    auto my_file = gofer::File::open(my_file_path);
    std::cout << "MYLINE=" << gofer::go_and_wait(get_first_line, std::ref(my_file)) << "\n";
    my_file.close();
  }

  // With closures: any value can be shared between tasks of one thread
  {
    std::string shared_data;
    // We have to wait, otherwise shared_data is not updated yet
    gofer::go_and_wait([&] { shared_data = "Inside the coroutine"; });
    std::cout << shared_data << "\n";
  }

  // Unordered execution
  gofer::with_event_loop([] {
    std::cout << "Batch 1\n";
    gofer::go(print_in_disorder, 200);
    gofer::go(print_in_disorder, 100);
    gofer::go(print_in_disorder, 50);
  });
  // Or using wait_all
  std::cout << "Batch 2\n";
  std::vector<gofer::Task<void>> batch;
  batch.push_back(gofer::go(print_in_disorder, 110));
  batch.push_back(gofer::go(print_in_disorder, 220));
  batch.push_back(gofer::go(print_in_disorder, 60));
  gofer::wait_all(batch);

  // Timeout
  gofer::go_and_wait([] {
    std::cout << "Please input from stdin: " << std::endl;
    std::string data;
    try {
      data = gofer::stdin_file().read_chunk(4096, 500ms);
    } catch (const std::system_error& e) {
      if (e.code() != std::errc::timed_out) {
        throw;
      }
    }
    if (data.empty()) {
      std::cout << "> Too late\n";
    } else {
      std::cout << "> So fast, you have successfully written: " << data;
    }
  });
}
