// tls_support.hpp: certificates for the TLS tests, made at test time with the `openssl`
// command in a temporary directory (removed at exit).
//
// certs() makes, once per process: a CA; a server certificate for "localhost" and 127.0.0.1
// signed by it; a certificate for "wrong.example" signed by it; a self-signed "localhost"
// certificate (an untrusted CA); a client certificate signed by the CA (mutual TLS). Any task
// or thread may call it.
#pragma once

#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <gofer/mutex.hpp>
#include <gofer/process.hpp>

#include "support/io_support.hpp"

namespace gofer::test {

// openssl: runs `openssl args...` in dir, throwing with its stderr when it fails.
inline void openssl(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  ProcessOptions opts;
  opts.cwd = dir.path.string();
  const RunResult r = run(args, Deadline(std::chrono::seconds(20)), opts);
  if (r.exit_code != 0) {
    throw std::runtime_error("openssl " + args[1] + " failed: " + r.err);
  }
}

// issue: a P-256 key name.key and a certificate name.pem for subject CN=cn with the given
// subjectAltName, signed by ca (or self-signed when ca is empty).
inline void issue(const TempDir& dir, const std::string& name, const std::string& cn,
                  const std::string& san, const std::string& usage, bool by_ca) {
  const std::string ext = name + ".ext";
  std::ofstream(dir.file(ext.c_str()))
      << "subjectAltName=" << san << "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=" << usage
      << "\n";
  openssl(dir, {"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn});
  if (by_ca) {
    openssl(dir, {"x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                  "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", ext});
  } else {
    openssl(dir, {"x509", "-req", "-in", name + ".csr", "-key", name + ".key", "-out",
                  name + ".pem", "-days", "2", "-extfile", ext});
  }
}

struct Certs {
  TempDir dir;
  std::string ca = dir.file("ca.pem");
  std::string server = dir.file("server.pem"), server_key = dir.file("server.key");
  std::string wrong = dir.file("wrong.pem"), wrong_key = dir.file("wrong.key");
  std::string self = dir.file("self.pem"), self_key = dir.file("self.key");
  std::string client = dir.file("client.pem"), client_key = dir.file("client.key");

  Certs() {
    openssl(dir,
            {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=gofer test CA"});
    issue(dir, "server", "localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth", true);
    issue(dir, "wrong", "wrong.example", "DNS:wrong.example", "serverAuth", true);
    issue(dir, "self", "localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth", false);
    issue(dir, "client", "gofer client", "DNS:client.example", "clientAuth", true);
  }
};

// certs: the process's certificates, made on first use (the directory goes at exit). A
// gofer::Mutex, not a static local's guard, orders the first uses: the one making them parks
// in gofer::run, and a second task of its thread must park too, not block the thread.
inline const Certs& certs() {
  static Mutex mu;
  static std::unique_ptr<Certs> made;
  std::lock_guard lock(mu);
  if (!made) {
    made = std::make_unique<Certs>();
  }
  return *made;
}

}  // namespace gofer::test
