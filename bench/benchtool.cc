// benchtool: load generators and sinks for bench/relay_bench.py.
//
// Build: g++ -O2 -std=c++20 -o benchtool bench/benchtool.cc
// (relay_bench.py builds it into a temporary directory on its own.)
//
// Modes (each prints one result line of key=value pairs on stdout; servers
// first print "listening <address>" once they accept connections):
//
//   benchtool sink    LISTEN
//   benchtool send    CONNECT BYTES
//   benchtool echo    LISTEN
//   benchtool connrate CONNECT SECONDS [SIZE]
//   benchtool pingpong CONNECT COUNT [SIZE]
//   benchtool idle    CONNECT COUNT
//
// LISTEN is tcp:PORT (on 127.0.0.1; 0 picks a free port) or unix:PATH.
// CONNECT is tcp:HOST:PORT or unix:PATH.
//
// The tools are deliberately plain blocking loops (except the echo server):
// the relay under test, not the load generator, should be the bottleneck,
// and the same binary drives socat, vmcat and the direct baseline, so any
// fixed cost here is shared by all three contestants.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "benchtool: %s\n", what.c_str());
  std::exit(2);
}

[[noreturn]] void DieErrno(const std::string& what) {
  Die(what + ": " + std::strerror(errno));
}

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

uint64_t ParseCount(const char* s, const char* what) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0') Die(std::string("bad ") + what + ": " + s);
  return v;
}

// A parsed tcp:/unix: address.
struct Addr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  bool tcp = false;
  std::string unix_path;
};

Addr ParseAddr(const std::string& text, bool listening) {
  Addr a;
  if (text.rfind("unix:", 0) == 0) {
    a.unix_path = text.substr(5);
    auto* sun = reinterpret_cast<sockaddr_un*>(&a.ss);
    if (a.unix_path.empty() || a.unix_path.size() >= sizeof(sun->sun_path)) {
      Die("bad unix path in " + text);
    }
    sun->sun_family = AF_UNIX;
    std::memcpy(sun->sun_path, a.unix_path.c_str(), a.unix_path.size() + 1);
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + a.unix_path.size() + 1);
    return a;
  }
  if (text.rfind("tcp:", 0) != 0) Die("address must start with tcp: or unix:: " + text);
  std::string rest = text.substr(4);
  std::string host = "127.0.0.1";
  std::string port = rest;
  if (!listening) {
    auto colon = rest.rfind(':');
    if (colon == std::string::npos) Die("expected tcp:HOST:PORT: " + text);
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  auto* sin = reinterpret_cast<sockaddr_in*>(&a.ss);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(static_cast<uint16_t>(ParseCount(port.c_str(), "port")));
  if (inet_pton(AF_INET, host.c_str(), &sin->sin_addr) != 1) Die("bad IPv4 address: " + host);
  a.len = sizeof(sockaddr_in);
  a.tcp = true;
  return a;
}

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Binds, listens and announces the address on stdout so the driver knows
// when connecting is safe.
int Listen(const std::string& text) {
  Addr a = ParseAddr(text, true);
  int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) DieErrno("socket");
  if (a.tcp) {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  } else {
    unlink(a.unix_path.c_str());
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&a.ss), a.len) < 0) DieErrno("bind " + text);
  if (listen(fd, SOMAXCONN) < 0) DieErrno("listen");
  if (a.tcp) {
    sockaddr_in sin{};
    socklen_t len = sizeof sin;
    getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
    std::printf("listening tcp:%u\n", ntohs(sin.sin_port));
  } else {
    std::printf("listening unix:%s\n", a.unix_path.c_str());
  }
  std::fflush(stdout);
  return fd;
}

// Connects, retrying while the relay is not yet listening: the driver waits
// for the listener, but a retry loop makes the tools robust on their own.
int Connect(const std::string& text) {
  Addr a = ParseAddr(text, false);
  double deadline = Now() + 10.0;
  for (;;) {
    int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) DieErrno("socket");
    if (connect(fd, reinterpret_cast<sockaddr*>(&a.ss), a.len) == 0) {
      if (a.tcp) SetNoDelay(fd);
      return fd;
    }
    int err = errno;
    close(fd);
    if ((err == ECONNREFUSED || err == ENOENT) && Now() < deadline) {
      usleep(10000);
      continue;
    }
    errno = err;
    DieErrno("connect " + text);
  }
}

void WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      DieErrno("write");
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// Returns false on EOF before n bytes.
bool ReadExactly(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      DieErrno("read");
    }
    if (r == 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

constexpr size_t kBulkBuffer = 256 * 1024;

// Accepts one connection and counts bytes to EOF. Two clocks: from the first
// byte (the figure relay_bench.py reports, so connection set-up through the
// relay is excluded equally for everyone) and from accept.
int Sink(const std::string& listen_addr) {
  int lfd = Listen(listen_addr);
  int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) DieErrno("accept");
  double accepted = Now();
  close(lfd);
  std::vector<char> buf(kBulkBuffer);
  uint64_t total = 0;
  double first = 0;
  for (;;) {
    ssize_t r = read(fd, buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      DieErrno("read");
    }
    if (r == 0) break;
    if (total == 0) first = Now();
    total += static_cast<uint64_t>(r);
  }
  double eof = Now();
  close(fd);
  double span = total ? eof - first : 0;
  std::printf("bytes=%llu first_byte_to_eof_s=%.6f accept_to_eof_s=%.6f mb_per_s=%.1f\n",
              static_cast<unsigned long long>(total), span, eof - accepted,
              span > 0 ? static_cast<double>(total) / span / 1e6 : 0.0);
  return 0;
}

// Writes BYTES from one reused buffer, half-closes, then waits for the far
// end to close so the relay has really finished before we exit.
int Send(const std::string& connect_addr, uint64_t bytes) {
  std::vector<char> buf(kBulkBuffer);
  for (size_t i = 0; i < buf.size(); ++i)
    buf[i] = static_cast<char>('a' + i % 26);
  double start = Now();
  int fd = Connect(connect_addr);
  uint64_t left = bytes;
  while (left > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    ssize_t w = write(fd, buf.data(), n);
    if (w < 0) {
      if (errno == EINTR) continue;
      DieErrno("write");
    }
    left -= static_cast<uint64_t>(w);
  }
  double sent = Now();
  if (shutdown(fd, SHUT_WR) < 0) DieErrno("shutdown");
  uint64_t back = 0;
  for (;;) {
    ssize_t r = read(fd, buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNRESET) break;
      DieErrno("read");
    }
    if (r == 0) break;
    back += static_cast<uint64_t>(r);
  }
  double closed = Now();
  close(fd);
  std::printf("bytes=%llu connect_to_sent_s=%.6f connect_to_close_s=%.6f echoed=%llu\n",
              static_cast<unsigned long long>(bytes), sent - start, closed - start,
              static_cast<unsigned long long>(back));
  return 0;
}

// Level-triggered epoll echo server. Runs until killed.
int Echo(const std::string& listen_addr) {
  int lfd = Listen(listen_addr);
  bool tcp = ParseAddr(listen_addr, true).tcp;
  fcntl(lfd, F_SETFL, O_NONBLOCK);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) DieErrno("epoll_create1");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  // Bytes read but not yet echoed (the peer is not reading): stop reading
  // that connection until they are written.
  std::unordered_map<int, std::string> pending;
  std::vector<char> buf(64 * 1024);
  std::vector<epoll_event> events(256);
  auto drop = [&](int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    pending.erase(fd);
    close(fd);
  };
  for (;;) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      DieErrno("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
              std::fprintf(stderr, "benchtool echo: accept: %s\n", std::strerror(errno));
            }
            break;
          }
          if (tcp) SetNoDelay(c);
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      auto it = pending.find(fd);
      if (it != pending.end()) {  // waiting for EPOLLOUT
        ssize_t w = write(fd, it->second.data(), it->second.size());
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
          drop(fd);
          continue;
        }
        if (w > 0) it->second.erase(0, static_cast<size_t>(w));
        if (it->second.empty()) {
          pending.erase(it);
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = fd;
          epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
        }
        continue;
      }
      ssize_t r = read(fd, buf.data(), buf.size());
      if (r < 0) {
        if (errno != EAGAIN && errno != EINTR) drop(fd);
        continue;
      }
      if (r == 0) {
        drop(fd);
        continue;
      }
      ssize_t w = write(fd, buf.data(), static_cast<size_t>(r));
      if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) {
          drop(fd);
          continue;
        }
        w = 0;
      }
      if (w < r) {
        pending[fd].assign(buf.data() + w, static_cast<size_t>(r - w));
        epoll_event cev{};
        cev.events = EPOLLOUT;
        cev.data.fd = fd;
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
      }
    }
  }
}

// One connection's worth of the connection-rate loop. Returns false (and
// says why on stderr) if the echo did not come back.
bool EchoOnce(int fd, const char* msg, char* back, size_t size) {
  WriteAll(fd, msg, size);
  if (!ReadExactly(fd, back, size)) {
    std::fprintf(stderr, "benchtool: connection closed before the echo came back\n");
    return false;
  }
  if (std::memcmp(msg, back, size) != 0) {
    std::fprintf(stderr, "benchtool: echo differs from what was sent\n");
    return false;
  }
  return true;
}

// Sequential connect + SIZE-byte echo + close for SECONDS (after a short
// unmeasured warm-up). Fails on the first broken echo: a relay that drops
// connections must not look fast.
int ConnRate(const std::string& connect_addr, double seconds, size_t size) {
  std::string msg(size, 'x');
  std::string back(size, '\0');
  auto once = [&] {
    int fd = Connect(connect_addr);
    bool ok = EchoOnce(fd, msg.data(), back.data(), size);
    close(fd);
    if (!ok) std::exit(3);
  };
  double warm_end = Now() + std::min(0.5, seconds / 10);
  while (Now() < warm_end)
    once();
  uint64_t count = 0;
  double start = Now();
  double end = start + seconds;
  double now = start;
  while (now < end) {
    once();
    ++count;
    now = Now();
  }
  std::printf("connections=%llu seconds=%.6f conn_per_s=%.1f\n",
              static_cast<unsigned long long>(count), now - start,
              static_cast<double>(count) / (now - start));
  return 0;
}

// One connection, COUNT round trips of SIZE bytes, after 10 % warm-up.
int PingPong(const std::string& connect_addr, uint64_t count, size_t size) {
  std::string msg(size, 'p');
  std::string back(size, '\0');
  int fd = Connect(connect_addr);
  uint64_t warmup = std::max<uint64_t>(count / 10, 10);
  std::vector<double> rtt;
  rtt.reserve(count);
  for (uint64_t i = 0; i < warmup + count; ++i) {
    double t0 = Now();
    if (!EchoOnce(fd, msg.data(), back.data(), size)) return 3;
    double t1 = Now();
    if (i >= warmup) rtt.push_back((t1 - t0) * 1e6);
  }
  close(fd);
  std::sort(rtt.begin(), rtt.end());
  auto pct = [&](double p) {
    size_t idx = static_cast<size_t>(p * static_cast<double>(rtt.size() - 1) + 0.5);
    return rtt[std::min(idx, rtt.size() - 1)];
  };
  double sum = 0;
  for (double v : rtt)
    sum += v;
  std::printf("count=%zu median_us=%.2f p99_us=%.2f mean_us=%.2f min_us=%.2f\n", rtt.size(),
              pct(0.5), pct(0.99), sum / static_cast<double>(rtt.size()), rtt.front());
  return 0;
}

// Opens COUNT connections one after the other (each proven with an echo, so
// every relayed connection is fully set up end to end), prints
// "ready COUNT", and holds them idle until stdin reaches EOF or a line.
// Then every connection must still echo: a relay that gave up on idle
// connections fails here instead of looking lean.
int Idle(const std::string& connect_addr, uint64_t count) {
  constexpr size_t kSize = 16;
  std::string msg(kSize, 'i');
  std::string back(kSize, '\0');
  std::vector<int> fds;
  fds.reserve(count);
  double start = Now();
  for (uint64_t i = 0; i < count; ++i) {
    int fd = Connect(connect_addr);
    if (!EchoOnce(fd, msg.data(), back.data(), kSize)) Die("connection " + std::to_string(i));
    fds.push_back(fd);
  }
  std::printf("ready %zu open_s=%.3f\n", fds.size(), Now() - start);
  std::fflush(stdout);
  char c;
  while (read(STDIN_FILENO, &c, 1) < 0 && errno == EINTR) {
  }
  size_t alive = 0;
  for (int fd : fds) {
    if (EchoOnce(fd, msg.data(), back.data(), kSize)) ++alive;
  }
  for (int fd : fds)
    close(fd);
  std::printf("alive=%zu of=%zu\n", alive, fds.size());
  return alive == fds.size() ? 0 : 3;
}

void Usage() {
  std::fputs(
      "usage: benchtool sink LISTEN | send CONNECT BYTES | echo LISTEN |\n"
      "       connrate CONNECT SECONDS [SIZE] | pingpong CONNECT COUNT [SIZE] |\n"
      "       idle CONNECT COUNT\n"
      "LISTEN: tcp:PORT or unix:PATH; CONNECT: tcp:HOST:PORT or unix:PATH\n",
      stderr);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc < 3) Usage();
  std::string mode = argv[1];
  std::string addr = argv[2];
  auto arg = [&](int i, const char* def) -> const char* {
    if (i < argc) return argv[i];
    if (def == nullptr) Usage();
    return def;
  };
  if (mode == "sink") return Sink(addr);
  if (mode == "send") return Send(addr, ParseCount(arg(3, nullptr), "BYTES"));
  if (mode == "echo") return Echo(addr);
  if (mode == "connrate") {
    return ConnRate(addr, std::atof(arg(3, nullptr)), ParseCount(arg(4, "64"), "SIZE"));
  }
  if (mode == "pingpong") {
    return PingPong(addr, ParseCount(arg(3, nullptr), "COUNT"), ParseCount(arg(4, "64"), "SIZE"));
  }
  if (mode == "idle") return Idle(addr, ParseCount(arg(3, nullptr), "COUNT"));
  Usage();
}
