// Address options (",fork,reuseaddr,mode=600,..."): the table of names socat
// users write, which address types accept them, and their typed values.
// Pure: no I/O.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "address/ip_range.h"
#include "base/status.h"

namespace vmcat {

/// Which addresses accept an option. Each address type lists its groups.
enum OptionGroup : unsigned {
  kGroupApp = 1u << 0,      // any address: escape, crnl, cr, ignoreeof
  kGroupTermios = 1u << 1,  // applied when the fd is a terminal: echo, icanon, raw, ...
  kGroupSocket = 1u << 2,   // bind, keepalive, rcvbuf, sndbuf, reuseaddr
  kGroupListen = 1u << 3,   // fork, max-children, backlog
  kGroupRetry = 1u << 4,    // retry, interval, forever
  kGroupConnect = 1u << 5,  // connect-timeout
  kGroupTcp = 1u << 6,      // nodelay
  kGroupNamed = 1u << 7,  // filesystem entries: mode/perm, user, group, unlink-early, unlink-close
  kGroupExec = 1u << 8,   // pty, stderr, setsid, ctty, sigint, sighup, sigquit, pipes, path
  kGroupOpen = 1u << 9,   // creat, excl, trunc, append, rdonly, wronly, nonblock
  kGroupPty = 1u << 10,   // link, wait-slave
  kGroupFork = 1u << 11,  // fork on datagram "listeners" (UDP-RECVFROM)
};

/// Terminal settings requested by options. Unset members leave the
/// terminal's current value alone.
struct TermiosSettings {
  bool sane = false;   // start from a sane cooked mode
  bool raw = false;    // cfmakeraw-like, but keeps output processing (socat's raw)
  bool rawer = false;  // raw and no echo, no output processing
  std::optional<bool> echo, icanon, isig, icrnl, inlcr, igncr, onlcr, opost, ixon, ixoff, iexten,
      echoe, echok, echoctl, crtscts;
  std::optional<unsigned char> vmin, vtime;
  // A serial line's settings: speeds as termios codes (B115200, from b115200,
  // ispeed=, ospeed=), the character size as CS5..CS8 (cs7, csize=), and
  // control flags.
  std::optional<unsigned> ispeed, ospeed, csize;
  std::optional<bool> parenb, parodd, cstopb, clocal, hupcl, cread;

  bool Any() const;
};

struct AddressOptions {
  // Application level (any address).
  std::optional<unsigned char> escape;  // this byte read from the address means EOF
  bool crnl = false;                    // convert \n <-> \r\n
  bool cr = false;                      // convert \n <-> \r
  bool ignoreeof = false;               // EOF on read is temporary: keep polling

  // Listening.
  bool fork = false;
  std::optional<unsigned> max_children;
  std::optional<int> backlog;
  std::optional<IpRange> range;  // range=: peers an IP listener accepts

  // Sockets.
  bool reuseaddr = false;
  std::optional<std::string> bind;
  std::optional<bool> keepalive;
  std::optional<int> rcvbuf, sndbuf;
  bool nodelay = false;
  std::optional<double> connect_timeout;
  unsigned retry = 0;
  double interval = 1.0;
  bool forever = false;

  // Filesystem entries (UNIX sockets, files, pty links).
  std::optional<mode_t> mode;
  std::optional<std::string> user, group;
  bool unlink_early = false;
  std::optional<bool> unlink_close;

  // EXEC / SYSTEM.
  bool pty = false;
  bool stderr_to_peer = false;
  bool setsid = false;
  bool setpgid = false;
  bool ctty = false;
  bool sigint = false, sighup = false, sigquit = false;
  bool pipes = false;
  bool login = false;
  std::optional<std::string> path;

  // OPEN / CREATE / GOPEN.
  bool creat = false, excl = false, trunc = false, append = false;
  bool rdonly = false, wronly = false, nonblock = false;

  // PTY.
  std::optional<std::string> link;
  bool wait_slave = false;

  TermiosSettings termios;

  // Not an option: set by a fork server on a STDOUT/STDERR/FD address that
  // every connection writes to; each connection's endpoint gets its own
  // duplicate of the descriptor, so that ending one closes only that.
  bool shared_output = false;

  /// Canonical names of the options given, in order (for messages and tests).
  std::vector<std::string> given;
  bool Has(std::string_view canonical_name) const;
};

/// Applies one option ("name" or "name=value") to `options`, checking that its
/// group is in `allowed_groups`. `address_keyword` names the address in errors.
Status ApplyOption(std::string_view name, std::optional<std::string_view> value,
                   unsigned allowed_groups, std::string_view address_keyword,
                   AddressOptions* options);

}  // namespace vmcat
