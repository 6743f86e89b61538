#include "cli/relay_args.h"

#include "base/strings.h"

namespace vmcat {

const char kRelayUsage[] =
    "Usage: vmcat relay [options] ADDRESS1 ADDRESS2\n"
    "Relays data both ways between two addresses (socat's address syntax).\n"
    "\n"
    "Options:\n"
    "  -u        one direction only: from ADDRESS1 to ADDRESS2\n"
    "  -U        one direction only: from ADDRESS2 to ADDRESS1\n"
    "  -t SECS   after one side's EOF, wait at most SECS for the other direction\n"
    "            (default: wait until it ends too; socat's default is 0.5, which\n"
    "            vmcat also uses when that direction reads datagrams: no EOF)\n"
    "  -T SECS   end after SECS without data in either direction\n"
    "  -b BYTES  read block size (default 65536)\n"
    "  -d        more diagnostics (repeat: -dd, -ddd, -dddd)\n"
    "  -v        dump relayed data as text on stderr (socat format)\n"
    "  -x        dump relayed data as hex on stderr (with -v: both)\n"
    "  --poll-us N  after relaying, keep polling for up to N microseconds (giving\n"
    "            the CPU to any other runnable program) before sleeping, so that an\n"
    "            answer arriving within that time needs no wake-up: in a VM a\n"
    "            wake-up across CPUs costs tens of microseconds (default 20; 0 never)\n"
    "  -h        this help\n"
    "  -V        version\n"
    "\n"
    "Addresses (keywords are case-insensitive; options follow commas):\n"
    "  -, STDIO, STDIN, STDOUT, STDERR, FD:<n>, <n>\n"
    "  UNIX-CONNECT:<path>  UNIX-LISTEN:<path>  UNIX-CLIENT:<path>\n"
    "  ABSTRACT-CONNECT:<name>  ABSTRACT-LISTEN:<name>  ABSTRACT-CLIENT:<name>\n"
    "  TCP:<host>:<port>  TCP4:..  TCP6:..  TCP-LISTEN:<port>  TCP4-LISTEN  TCP6-LISTEN\n"
    "  UDP:<host>:<port>  UDP-LISTEN:<port>  UDP-SENDTO:<host>:<port>  UDP-RECVFROM:<port>\n"
    "  VSOCK-CONNECT:<cid>:<port>  VSOCK-LISTEN:<port>\n"
    "  VSOCK-CONNECT:<uds-path>:<port>  (Firecracker / Cloud Hypervisor hybrid vsock)\n"
    "  EXEC:<command line>  SYSTEM:<shell command>\n"
    "  OPEN:<file>  CREATE:<file>  GOPEN:<file>  <path containing />\n"
    "  PIPE[:<fifo>]  PTY\n"
    "  A!!B         read from A, write to B\n"
    "\n"
    "Common options: fork, max-children=N, reuseaddr, unlink-early, mode=600, bind=H:P,\n"
    "connect-timeout=S, retry=N, interval=S, forever, nodelay, keepalive, backlog=N;\n"
    "EXEC/SYSTEM: pty, stderr, setsid, ctty, sigint, sighup, sigquit, pipes, sane, raw;\n"
    "terminals: icanon=0, echo=0, isig=0, raw, rawer, escape=0x0f, crnl, ignoreeof;\n"
    "serial lines: b115200 (any termios speed), ispeed=, ospeed=, cs5..cs8, csize=,\n"
    "parenb, parodd, cstopb, clocal, hupcl, crtscts.\n";

namespace {

Result<double> SecondsArg(const std::vector<std::string>& args, size_t* i, std::string_view flag,
                          std::string_view attached) {
  std::string value;
  if (!attached.empty()) {
    value = std::string(attached);
  } else if (*i + 1 < args.size()) {
    value = args[++*i];
  } else {
    return Status::Error("option " + std::string(flag) + " needs a number of seconds");
  }
  auto s = ParseSeconds(value);
  if (!s) {
    return Status::Error("option " + std::string(flag) + ": bad value " + Quote(value) +
                         ": expected seconds such as 5 or 0.5");
  }
  return *s;
}

}  // namespace

Result<RelayArgs> ParseRelayArgs(const std::vector<std::string>& args) {
  RelayArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool is_flag = a.size() >= 2 && a[0] == '-' && a[1] != ',' && a[1] != '!' && a[1] != ':' &&
                   out.addresses.empty();
    if (!is_flag) {
      out.addresses.push_back(a);
      continue;
    }
    if (a == "--") {
      for (++i; i < args.size(); ++i)
        out.addresses.push_back(args[i]);
      break;
    }
    if (a == "--help") {
      out.help = true;
      continue;
    }
    if (a == "--version") {
      out.version = true;
      continue;
    }
    if (a == "--poll-us" || a.rfind("--poll-us=", 0) == 0) {
      std::string value = a.size() > 9 ? a.substr(10) : i + 1 < args.size() ? args[++i] : "";
      auto us = ParseUnsigned(value, 1000000);
      if (!us) {
        return Status::Error("option --poll-us: bad value " + Quote(value) +
                             ": expected microseconds from 0 to 1000000");
      }
      out.poll_before_sleep = std::chrono::microseconds(*us);
      continue;
    }
    // Short flags may be grouped (-dd, -uv); -t/-T/-b take a value.
    for (size_t j = 1; j < a.size(); ++j) {
      char c = a[j];
      std::string_view rest = std::string_view(a).substr(j + 1);
      switch (c) {
        case 'u':
          out.options.direction = RelayOptions::Direction::kForward;
          break;
        case 'U':
          out.options.direction = RelayOptions::Direction::kReverse;
          break;
        case 'd':
          out.debug++;
          break;
        case 'v':
          out.options.pump.dump_text = true;
          break;
        case 'x':
          out.options.pump.dump_hex = true;
          break;
        case 'h':
          out.help = true;
          break;
        case 'V':
          out.version = true;
          break;
        case 't':
        case 'T': {
          VMCAT_ASSIGN_OR_RETURN(double secs, SecondsArg(args, &i, std::string("-") + c, rest));
          (c == 't' ? out.options.half_close_timeout : out.options.idle_timeout) = secs;
          j = a.size();
          break;
        }
        case 'b': {
          std::string value = !rest.empty()         ? std::string(rest)
                              : i + 1 < args.size() ? args[++i]
                                                    : "";
          auto n = ParseUnsigned(value, 64u << 20);
          if (!n || *n == 0) {
            return Status::Error("option -b: bad value " + Quote(value) +
                                 ": expected a block size from 1 to 67108864");
          }
          out.options.pump.block_size = static_cast<size_t>(*n);
          out.options.pump.block_size_given = true;
          j = a.size();
          break;
        }
        default:
          return Status::Error("unknown option " + Quote(std::string("-") + c) +
                               " (see vmcat relay -h)");
      }
    }
  }
  if (out.help || out.version) return out;
  if (out.addresses.size() != 2) {
    return Status::Error("expected 2 addresses, got " + std::to_string(out.addresses.size()) +
                         " (see vmcat relay -h)");
  }
  return out;
}

}  // namespace vmcat
