// stream_io.cpp: StreamIo's calls (stream_io_impl.hpp) instantiated for File, TcpStream and
// UnixStream; lib/tls/stream.cpp instantiates them for TlsStream.
#include <gofer/file.hpp>
#include <gofer/net.hpp>
#include <gofer/unix.hpp>

#include "stream_io_impl.hpp"

namespace gofer {

static_assert(StreamIo<File>::default_max_line_length == detail::default_max_line_length);

template <>
const char* const stream_type_label<File> = "File";
template <>
const char* const stream_type_label<TcpStream> = "TcpStream";
template <>
const char* const stream_type_label<UnixStream> = "UnixStream";

template class StreamIo<File>;
template class StreamIo<TcpStream>;
template class StreamIo<UnixStream>;

}  // namespace gofer
