#include "address/options.h"

#include <termios.h>

#include <algorithm>
#include <cstring>

#include "base/strings.h"

namespace vmcat {

namespace {

enum class Id {
  kEscape,
  kCrnl,
  kCr,
  kIgnoreeof,
  kFork,
  kMaxChildren,
  kBacklog,
  kRange,
  kReuseaddr,
  kBind,
  kKeepalive,
  kRcvbuf,
  kSndbuf,
  kNodelay,
  kConnectTimeout,
  kRetry,
  kInterval,
  kForever,
  kMode,
  kUser,
  kGroup,
  kUnlinkEarly,
  kUnlinkClose,
  kPty,
  kStderr,
  kSetsid,
  kSetpgid,
  kCtty,
  kSigint,
  kSighup,
  kSigquit,
  kPipes,
  kLogin,
  kPath,
  kCreat,
  kExcl,
  kTrunc,
  kAppend,
  kRdonly,
  kWronly,
  kNonblock,
  kLink,
  kWaitSlave,
  kSane,
  kRaw,
  kRawer,
  kEcho,
  kIcanon,
  kIsig,
  kIcrnl,
  kInlcr,
  kIgncr,
  kOnlcr,
  kOpost,
  kIxon,
  kIxoff,
  kIexten,
  kEchoe,
  kEchok,
  kEchoctl,
  kCrtscts,
  kVmin,
  kVtime,
  kSpeed,  // b<rate>: both speeds
  kIspeed,
  kOspeed,
  kCs,  // cs5 .. cs8
  kCsize,
  kParenb,
  kParodd,
  kCstopb,
  kClocal,
  kHupcl,
  kCread,
};

struct OptionInfo {
  const char* name;     // canonical
  const char* aliases;  // space-separated, may be empty
  Id id;
  unsigned group;
};

constexpr OptionInfo kOptions[] = {
    {"escape", "", Id::kEscape, kGroupApp},
    {"crnl", "", Id::kCrnl, kGroupApp},
    {"crlf", "", Id::kCrnl, kGroupApp},  // socat 1.7.4 also accepts this spelling
    {"cr", "", Id::kCr, kGroupApp},
    {"ignoreeof", "", Id::kIgnoreeof, kGroupApp},
    {"fork", "", Id::kFork, kGroupListen | kGroupFork},
    {"max-children", "", Id::kMaxChildren, kGroupListen | kGroupFork},
    {"backlog", "", Id::kBacklog, kGroupListen},
    {"range", "", Id::kRange, kGroupListen},
    {"reuseaddr", "so-reuseaddr", Id::kReuseaddr, kGroupSocket},
    {"bind", "", Id::kBind, kGroupSocket},
    {"keepalive", "so-keepalive", Id::kKeepalive, kGroupSocket},
    {"rcvbuf", "so-rcvbuf", Id::kRcvbuf, kGroupSocket},
    {"sndbuf", "so-sndbuf", Id::kSndbuf, kGroupSocket},
    {"nodelay", "tcp-nodelay", Id::kNodelay, kGroupTcp},
    {"connect-timeout", "", Id::kConnectTimeout, kGroupConnect},
    {"retry", "", Id::kRetry, kGroupRetry},
    {"interval", "", Id::kInterval, kGroupRetry},
    {"forever", "", Id::kForever, kGroupRetry},
    {"mode", "perm", Id::kMode, kGroupNamed | kGroupOpen | kGroupPty},
    {"user", "owner uid", Id::kUser, kGroupNamed | kGroupOpen | kGroupPty},
    {"group", "gid", Id::kGroup, kGroupNamed | kGroupOpen | kGroupPty},
    {"unlink-early", "", Id::kUnlinkEarly, kGroupNamed},
    {"unlink-close", "", Id::kUnlinkClose, kGroupNamed},
    {"pty", "", Id::kPty, kGroupExec},
    {"stderr", "", Id::kStderr, kGroupExec},
    {"setsid", "sid", Id::kSetsid, kGroupExec},
    {"setpgid", "pgid", Id::kSetpgid, kGroupExec},
    {"ctty", "controlling-terminal", Id::kCtty, kGroupExec},
    {"sigint", "", Id::kSigint, kGroupExec},
    {"sighup", "", Id::kSighup, kGroupExec},
    {"sigquit", "", Id::kSigquit, kGroupExec},
    {"pipes", "", Id::kPipes, kGroupExec},
    {"login", "", Id::kLogin, kGroupExec},
    {"path", "", Id::kPath, kGroupExec},
    {"creat", "create", Id::kCreat, kGroupOpen},
    {"excl", "", Id::kExcl, kGroupOpen},
    {"trunc", "", Id::kTrunc, kGroupOpen},
    {"append", "", Id::kAppend, kGroupOpen},
    {"rdonly", "", Id::kRdonly, kGroupOpen},
    {"wronly", "", Id::kWronly, kGroupOpen},
    {"nonblock", "ndelay", Id::kNonblock, kGroupOpen},
    {"link", "symbolic-link symlink", Id::kLink, kGroupPty},
    {"wait-slave", "waitslave", Id::kWaitSlave, kGroupPty},
    {"sane", "", Id::kSane, kGroupTermios},
    {"raw", "", Id::kRaw, kGroupTermios},
    {"rawer", "", Id::kRawer, kGroupTermios},
    {"echo", "", Id::kEcho, kGroupTermios},
    {"icanon", "", Id::kIcanon, kGroupTermios},
    {"isig", "", Id::kIsig, kGroupTermios},
    {"icrnl", "", Id::kIcrnl, kGroupTermios},
    {"inlcr", "", Id::kInlcr, kGroupTermios},
    {"igncr", "", Id::kIgncr, kGroupTermios},
    {"onlcr", "", Id::kOnlcr, kGroupTermios},
    {"opost", "", Id::kOpost, kGroupTermios},
    {"ixon", "", Id::kIxon, kGroupTermios},
    {"ixoff", "", Id::kIxoff, kGroupTermios},
    {"iexten", "", Id::kIexten, kGroupTermios},
    {"echoe", "", Id::kEchoe, kGroupTermios},
    {"echok", "", Id::kEchok, kGroupTermios},
    {"echoctl", "ctlecho", Id::kEchoctl, kGroupTermios},
    {"crtscts", "", Id::kCrtscts, kGroupTermios},
    {"vmin", "min", Id::kVmin, kGroupTermios},
    {"vtime", "time", Id::kVtime, kGroupTermios},
    {"ispeed", "", Id::kIspeed, kGroupTermios},
    {"ospeed", "", Id::kOspeed, kGroupTermios},
    {"cs5", "", Id::kCs, kGroupTermios},
    {"cs6", "", Id::kCs, kGroupTermios},
    {"cs7", "", Id::kCs, kGroupTermios},
    {"cs8", "", Id::kCs, kGroupTermios},
    {"csize", "", Id::kCsize, kGroupTermios},
    {"parenb", "", Id::kParenb, kGroupTermios},
    {"parodd", "", Id::kParodd, kGroupTermios},
    {"cstopb", "", Id::kCstopb, kGroupTermios},
    {"clocal", "", Id::kClocal, kGroupTermios},
    {"hupcl", "hup", Id::kHupcl, kGroupTermios},
    {"cread", "", Id::kCread, kGroupTermios},
};

// b<rate> (b9600, b115200, ...): one entry stands for them all.
const OptionInfo kSpeedOption = {"b<rate>", "", Id::kSpeed, kGroupTermios};

// The line speeds termios has a code for.
struct SpeedCode {
  unsigned baud;
  speed_t code;
};
constexpr SpeedCode kSpeeds[] = {
    {0, B0},
    {50, B50},
    {75, B75},
    {110, B110},
    {134, B134},
    {150, B150},
    {200, B200},
    {300, B300},
    {600, B600},
    {1200, B1200},
    {1800, B1800},
    {2400, B2400},
    {4800, B4800},
    {9600, B9600},
    {19200, B19200},
    {38400, B38400},
    {57600, B57600},
    {115200, B115200},
    {230400, B230400},
    {460800, B460800},
    {500000, B500000},
    {576000, B576000},
    {921600, B921600},
    {1000000, B1000000},
    {1152000, B1152000},
    {1500000, B1500000},
    {2000000, B2000000},
    {2500000, B2500000},
    {3000000, B3000000},
    {3500000, B3500000},
    {4000000, B4000000},
};

std::optional<speed_t> SpeedCodeOf(std::string_view baud_text) {
  // Plain decimal, as speeds are written (no 0x, no octal 0 prefix).
  if (baud_text.empty() || baud_text.find_first_not_of("0123456789") != std::string_view::npos ||
      (baud_text.size() > 1 && baud_text[0] == '0')) {
    return std::nullopt;
  }
  auto baud = ParseUnsigned(baud_text, 4000000);
  if (!baud) return std::nullopt;
  for (const SpeedCode& s : kSpeeds) {
    if (s.baud == *baud) return s.code;
  }
  return std::nullopt;
}

// CSIZE codes for 5, 6, 7 and 8 bits.
constexpr tcflag_t kCharacterSizes[] = {CS5, CS6, CS7, CS8};

// "b" followed by digits.
bool IsSpeedOption(std::string_view name) {
  return name.size() > 1 && (name[0] == 'b' || name[0] == 'B') &&
         name.find_first_not_of("0123456789", 1) == std::string_view::npos;
}

const OptionInfo* FindOption(std::string_view name) {
  for (const OptionInfo& info : kOptions) {
    if (EqualsIgnoreCase(name, info.name)) return &info;
    for (const std::string& alias : Split(info.aliases, ' ')) {
      if (!alias.empty() && EqualsIgnoreCase(name, alias)) return &info;
    }
  }
  return nullptr;
}

// Value parsers: each returns an error naming the expected form.
Status BadValue(const OptionInfo& info, std::string_view value, std::string_view expected) {
  return Status::Error("option \"" + std::string(info.name) + "\": bad value " + Quote(value) +
                       ": expected " + std::string(expected));
}

Status NeedsValue(const OptionInfo& info, std::string_view expected) {
  return Status::Error("option \"" + std::string(info.name) + "\" needs a value (" +
                       std::string(expected) + ")");
}

Status SetBool(const OptionInfo& info, std::optional<std::string_view> value, bool* out) {
  if (!value) {
    *out = true;
    return Status::Ok();
  }
  auto b = ParseBool(*value);
  if (!b) return BadValue(info, *value, "0 or 1");
  *out = *b;
  return Status::Ok();
}

Status SetOptBool(const OptionInfo& info, std::optional<std::string_view> value,
                  std::optional<bool>* out) {
  bool b = false;
  VMCAT_RETURN_IF_ERROR(SetBool(info, value, &b));
  *out = b;
  return Status::Ok();
}

template <typename T>
Status SetUnsigned(const OptionInfo& info, std::optional<std::string_view> value, uint64_t max,
                   T* out) {
  if (!value) return NeedsValue(info, "a number");
  auto n = ParseUnsigned(*value, max);
  if (!n) return BadValue(info, *value, "a number from 0 to " + std::to_string(max));
  *out = static_cast<T>(*n);
  return Status::Ok();
}

Status SetSeconds(const OptionInfo& info, std::optional<std::string_view> value, double* out) {
  if (!value) return NeedsValue(info, "seconds");
  auto s = ParseSeconds(*value);
  if (!s) return BadValue(info, *value, "seconds such as 5 or 0.25");
  *out = *s;
  return Status::Ok();
}

Status SetSpeed(std::string_view option, std::string_view baud, std::optional<unsigned>* out) {
  auto code = SpeedCodeOf(baud);
  if (!code) {
    return Status::Error("option " + Quote(option) + ": " + Quote(baud) +
                         " is not a line speed termios knows (such as 9600, 38400, 115200)");
  }
  *out = *code;
  return Status::Ok();
}

Status SetString(const OptionInfo& info, std::optional<std::string_view> value,
                 std::optional<std::string>* out) {
  if (!value || value->empty()) return NeedsValue(info, "a string");
  *out = std::string(*value);
  return Status::Ok();
}

}  // namespace

bool TermiosSettings::Any() const {
  return sane || raw || rawer || echo || icanon || isig || icrnl || inlcr || igncr || onlcr ||
         opost || ixon || ixoff || iexten || echoe || echok || echoctl || crtscts || vmin ||
         vtime || ispeed || ospeed || csize || parenb || parodd || cstopb || clocal || hupcl ||
         cread;
}

bool AddressOptions::Has(std::string_view canonical_name) const {
  return std::find(given.begin(), given.end(), canonical_name) != given.end();
}

Status ApplyOption(std::string_view name, std::optional<std::string_view> value,
                   unsigned allowed_groups, std::string_view address_keyword, AddressOptions* o) {
  const OptionInfo* info = FindOption(name);
  if (info == nullptr && IsSpeedOption(name)) info = &kSpeedOption;
  if (info == nullptr) return Status::Error("unknown option " + Quote(name));
  if ((info->group & allowed_groups) == 0) {
    std::string shown = info == &kSpeedOption ? std::string(name) : std::string(info->name);
    return Status::Error("option \"" + shown + "\" is not valid for " +
                         std::string(address_keyword));
  }
  const OptionInfo& i = *info;
  TermiosSettings& t = o->termios;
  Status s;
  switch (info->id) {
    case Id::kEscape: {
      unsigned char byte = 0;
      s = SetUnsigned(i, value, 255, &byte);
      if (s.ok()) o->escape = byte;
      break;
    }
    case Id::kCrnl:
      s = SetBool(i, value, &o->crnl);
      break;
    case Id::kCr:
      s = SetBool(i, value, &o->cr);
      break;
    case Id::kIgnoreeof:
      s = SetBool(i, value, &o->ignoreeof);
      break;
    case Id::kFork:
      s = SetBool(i, value, &o->fork);
      break;
    case Id::kMaxChildren: {
      unsigned n = 0;
      s = SetUnsigned(i, value, 1000000, &n);
      if (s.ok() && n == 0) s = BadValue(i, *value, "a number of at least 1");
      if (s.ok()) o->max_children = n;
      break;
    }
    case Id::kBacklog: {
      int n = 0;
      s = SetUnsigned(i, value, 65535, &n);
      if (s.ok()) o->backlog = n;
      break;
    }
    case Id::kReuseaddr:
      s = SetBool(i, value, &o->reuseaddr);
      break;
    case Id::kBind:
      s = SetString(i, value, &o->bind);
      break;
    case Id::kRange: {
      if (!value || value->empty()) {
        s = NeedsValue(i, "ADDRESS/BITS or ADDRESS:MASK");
        break;
      }
      auto r = ParseIpRange(*value);
      if (r.ok()) {
        o->range = std::move(r).value();
      } else {
        s = r.status();
      }
      break;
    }
    case Id::kKeepalive:
      s = SetOptBool(i, value, &o->keepalive);
      break;
    case Id::kRcvbuf:
    case Id::kSndbuf: {
      int n = 0;
      s = SetUnsigned(i, value, 1u << 30, &n);
      if (s.ok()) (info->id == Id::kRcvbuf ? o->rcvbuf : o->sndbuf) = n;
      break;
    }
    case Id::kNodelay:
      s = SetBool(i, value, &o->nodelay);
      break;
    case Id::kConnectTimeout: {
      double secs = 0;
      s = SetSeconds(i, value, &secs);
      if (s.ok()) o->connect_timeout = secs;
      break;
    }
    case Id::kRetry:
      s = SetUnsigned(i, value, 1000000000, &o->retry);
      break;
    case Id::kInterval:
      s = SetSeconds(i, value, &o->interval);
      break;
    case Id::kForever:
      s = SetBool(i, value, &o->forever);
      break;
    case Id::kMode: {
      if (!value) {
        s = NeedsValue(i, "an octal mode such as 600");
        break;
      }
      // socat reads modes as octal whether or not they start with 0.
      std::string octal = "0" + std::string(*value);
      auto m = ParseUnsigned(octal, 07777);
      if (!m || value->empty()) {
        s = BadValue(i, *value, "an octal mode such as 600");
      } else {
        o->mode = static_cast<mode_t>(*m);
      }
      break;
    }
    case Id::kUser:
      s = SetString(i, value, &o->user);
      break;
    case Id::kGroup:
      s = SetString(i, value, &o->group);
      break;
    case Id::kUnlinkEarly:
      s = SetBool(i, value, &o->unlink_early);
      break;
    case Id::kUnlinkClose:
      s = SetOptBool(i, value, &o->unlink_close);
      break;
    case Id::kPty:
      s = SetBool(i, value, &o->pty);
      break;
    case Id::kStderr:
      s = SetBool(i, value, &o->stderr_to_peer);
      break;
    case Id::kSetsid:
      s = SetBool(i, value, &o->setsid);
      break;
    case Id::kSetpgid:
      s = SetBool(i, value, &o->setpgid);
      break;
    case Id::kCtty:
      s = SetBool(i, value, &o->ctty);
      break;
    case Id::kSigint:
      s = SetBool(i, value, &o->sigint);
      break;
    case Id::kSighup:
      s = SetBool(i, value, &o->sighup);
      break;
    case Id::kSigquit:
      s = SetBool(i, value, &o->sigquit);
      break;
    case Id::kPipes:
      s = SetBool(i, value, &o->pipes);
      break;
    case Id::kLogin:
      s = SetBool(i, value, &o->login);
      break;
    case Id::kPath:
      s = SetString(i, value, &o->path);
      break;
    case Id::kCreat:
      s = SetBool(i, value, &o->creat);
      break;
    case Id::kExcl:
      s = SetBool(i, value, &o->excl);
      break;
    case Id::kTrunc:
      s = SetBool(i, value, &o->trunc);
      break;
    case Id::kAppend:
      s = SetBool(i, value, &o->append);
      break;
    case Id::kRdonly:
      s = SetBool(i, value, &o->rdonly);
      break;
    case Id::kWronly:
      s = SetBool(i, value, &o->wronly);
      break;
    case Id::kNonblock:
      s = SetBool(i, value, &o->nonblock);
      break;
    case Id::kLink:
      s = SetString(i, value, &o->link);
      break;
    case Id::kWaitSlave:
      s = SetBool(i, value, &o->wait_slave);
      break;
    case Id::kSane:
      s = SetBool(i, value, &t.sane);
      break;
    case Id::kRaw:
      s = SetBool(i, value, &t.raw);
      break;
    case Id::kRawer:
      s = SetBool(i, value, &t.rawer);
      break;
    case Id::kEcho:
      s = SetOptBool(i, value, &t.echo);
      break;
    case Id::kIcanon:
      s = SetOptBool(i, value, &t.icanon);
      break;
    case Id::kIsig:
      s = SetOptBool(i, value, &t.isig);
      break;
    case Id::kIcrnl:
      s = SetOptBool(i, value, &t.icrnl);
      break;
    case Id::kInlcr:
      s = SetOptBool(i, value, &t.inlcr);
      break;
    case Id::kIgncr:
      s = SetOptBool(i, value, &t.igncr);
      break;
    case Id::kOnlcr:
      s = SetOptBool(i, value, &t.onlcr);
      break;
    case Id::kOpost:
      s = SetOptBool(i, value, &t.opost);
      break;
    case Id::kIxon:
      s = SetOptBool(i, value, &t.ixon);
      break;
    case Id::kIxoff:
      s = SetOptBool(i, value, &t.ixoff);
      break;
    case Id::kIexten:
      s = SetOptBool(i, value, &t.iexten);
      break;
    case Id::kEchoe:
      s = SetOptBool(i, value, &t.echoe);
      break;
    case Id::kEchok:
      s = SetOptBool(i, value, &t.echok);
      break;
    case Id::kEchoctl:
      s = SetOptBool(i, value, &t.echoctl);
      break;
    case Id::kCrtscts:
      s = SetOptBool(i, value, &t.crtscts);
      break;
    case Id::kVmin:
    case Id::kVtime: {
      unsigned char v = 0;
      s = SetUnsigned(i, value, 255, &v);
      if (s.ok()) (info->id == Id::kVmin ? t.vmin : t.vtime) = v;
      break;
    }
    case Id::kSpeed:
      if (value) {
        s = Status::Error("option " + Quote(name) + " takes no value (the speed is in its name)");
        break;
      }
      s = SetSpeed(name, name.substr(1), &t.ispeed);
      if (s.ok()) t.ospeed = t.ispeed;
      break;
    case Id::kIspeed:
    case Id::kOspeed:
      s = value ? SetSpeed(i.name, *value, info->id == Id::kIspeed ? &t.ispeed : &t.ospeed)
                : NeedsValue(i, "a line speed such as 115200");
      break;
    case Id::kCs:
      if (value) {
        s = Status::Error("option " + Quote(i.name) + " takes no value (the size is in its name)");
        break;
      }
      t.csize = kCharacterSizes[info->name[2] - '5'];
      break;
    case Id::kCsize: {
      // As socat: 0..3 for 5..8 bits.
      unsigned n = 0;
      s = SetUnsigned(i, value, 3, &n);
      if (s.ok()) t.csize = kCharacterSizes[n];
      break;
    }
    case Id::kParenb:
      s = SetOptBool(i, value, &t.parenb);
      break;
    case Id::kParodd:
      s = SetOptBool(i, value, &t.parodd);
      break;
    case Id::kCstopb:
      s = SetOptBool(i, value, &t.cstopb);
      break;
    case Id::kClocal:
      s = SetOptBool(i, value, &t.clocal);
      break;
    case Id::kHupcl:
      s = SetOptBool(i, value, &t.hupcl);
      break;
    case Id::kCread:
      s = SetOptBool(i, value, &t.cread);
      break;
  }
  if (s.ok()) o->given.emplace_back(info->name);
  return s;
}

}  // namespace vmcat
