// A minimal gofer::tls consumer: a client context on the system trust store, and the error a
// server context without a certificate gives.
#include <cstdio>
#include <stdexcept>

#include <gofer/gofer.hpp>
#include <gofer/tls.hpp>

int main() {
  const auto client = gofer::TlsContext::client();
  bool rejected = false;
  try {
    gofer::TlsContext::server({});
  } catch (const std::invalid_argument&) {
    rejected = true;
  }
  std::printf("tls consumer: client context %s, server without certificate %s (%s)\n",
              client.is_empty() ? "missing" : "made", rejected ? "rejected" : "accepted",
              gofer::tls_category().name());
  return !client.is_empty() && rejected ? 0 : 1;
}
