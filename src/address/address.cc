#include "address/address.h"

#include <cstring>

#include "base/strings.h"

namespace vmcat {

namespace {

constexpr unsigned kStdioGroups = kGroupApp | kGroupTermios;
constexpr unsigned kConnectGroups = kGroupApp | kGroupSocket | kGroupRetry | kGroupConnect;
constexpr unsigned kListenGroups = kGroupApp | kGroupSocket | kGroupListen | kGroupRetry;

// Canonical keywords first; aliases follow with the same type.
constexpr AddressTypeInfo kTypes[] = {
    {"STDIO", AddressType::kStdio, IpFamily::kAny, 0, 0, "", kStdioGroups},
    {"-", AddressType::kStdio, IpFamily::kAny, 0, 0, "", kStdioGroups},
    {"STDIN", AddressType::kStdin, IpFamily::kAny, 0, 0, "", kStdioGroups},
    {"STDOUT", AddressType::kStdout, IpFamily::kAny, 0, 0, "", kStdioGroups},
    {"STDERR", AddressType::kStderr, IpFamily::kAny, 0, 0, "", kStdioGroups},
    {"FD", AddressType::kFd, IpFamily::kAny, 1, 1, "<fdnum>", kStdioGroups},
    {"UNIX-CONNECT", AddressType::kUnixConnect, IpFamily::kAny, 1, 1, "<path>", kConnectGroups},
    {"LOCAL", AddressType::kUnixConnect, IpFamily::kAny, 1, 1, "<path>", kConnectGroups},
    {"UNIX-LISTEN", AddressType::kUnixListen, IpFamily::kAny, 1, 1, "<path>",
     kListenGroups | kGroupNamed},
    {"UNIX-L", AddressType::kUnixListen, IpFamily::kAny, 1, 1, "<path>",
     kListenGroups | kGroupNamed},
    {"UNIX-CLIENT", AddressType::kUnixClient, IpFamily::kAny, 1, 1, "<path>", kConnectGroups},
    {"UNIX", AddressType::kUnixClient, IpFamily::kAny, 1, 1, "<path>", kConnectGroups},
    {"ABSTRACT-CONNECT", AddressType::kAbstractConnect, IpFamily::kAny, 1, 1, "<name>",
     kConnectGroups},
    {"ABSTRACT-LISTEN", AddressType::kAbstractListen, IpFamily::kAny, 1, 1, "<name>",
     kListenGroups},
    {"ABSTRACT-CLIENT", AddressType::kAbstractClient, IpFamily::kAny, 1, 1, "<name>",
     kConnectGroups},
    {"ABSTRACT", AddressType::kAbstractClient, IpFamily::kAny, 1, 1, "<name>", kConnectGroups},
    {"TCP", AddressType::kTcpConnect, IpFamily::kAny, 2, 2, "<host>:<port>",
     kConnectGroups | kGroupTcp},
    {"TCP-CONNECT", AddressType::kTcpConnect, IpFamily::kAny, 2, 2, "<host>:<port>",
     kConnectGroups | kGroupTcp},
    {"INET", AddressType::kTcpConnect, IpFamily::kAny, 2, 2, "<host>:<port>",
     kConnectGroups | kGroupTcp},
    {"TCP4", AddressType::kTcpConnect, IpFamily::kIpv4, 2, 2, "<host>:<port>",
     kConnectGroups | kGroupTcp},
    {"TCP4-CONNECT", AddressType::kTcpConnect, IpFamily::kIpv4, 2, 2, "<host>:<port>",
     kConnectGroups | kGroupTcp},
    {"TCP6", AddressType::kTcpConnect, IpFamily::kIpv6, 2, 2, "<host>:<port>",
     kConnectGroups | kGroupTcp},
    {"TCP6-CONNECT", AddressType::kTcpConnect, IpFamily::kIpv6, 2, 2, "<host>:<port>",
     kConnectGroups | kGroupTcp},
    {"TCP-LISTEN", AddressType::kTcpListen, IpFamily::kAny, 1, 1, "<port>",
     kListenGroups | kGroupTcp},
    {"TCP-L", AddressType::kTcpListen, IpFamily::kAny, 1, 1, "<port>", kListenGroups | kGroupTcp},
    {"TCP4-LISTEN", AddressType::kTcpListen, IpFamily::kIpv4, 1, 1, "<port>",
     kListenGroups | kGroupTcp},
    {"TCP4-L", AddressType::kTcpListen, IpFamily::kIpv4, 1, 1, "<port>", kListenGroups | kGroupTcp},
    {"TCP6-LISTEN", AddressType::kTcpListen, IpFamily::kIpv6, 1, 1, "<port>",
     kListenGroups | kGroupTcp},
    {"TCP6-L", AddressType::kTcpListen, IpFamily::kIpv6, 1, 1, "<port>", kListenGroups | kGroupTcp},
    {"UDP", AddressType::kUdpConnect, IpFamily::kAny, 2, 2, "<host>:<port>",
     kGroupApp | kGroupSocket},
    {"UDP-CONNECT", AddressType::kUdpConnect, IpFamily::kAny, 2, 2, "<host>:<port>",
     kGroupApp | kGroupSocket},
    {"UDP4", AddressType::kUdpConnect, IpFamily::kIpv4, 2, 2, "<host>:<port>",
     kGroupApp | kGroupSocket},
    {"UDP4-CONNECT", AddressType::kUdpConnect, IpFamily::kIpv4, 2, 2, "<host>:<port>",
     kGroupApp | kGroupSocket},
    {"UDP6", AddressType::kUdpConnect, IpFamily::kIpv6, 2, 2, "<host>:<port>",
     kGroupApp | kGroupSocket},
    {"UDP6-CONNECT", AddressType::kUdpConnect, IpFamily::kIpv6, 2, 2, "<host>:<port>",
     kGroupApp | kGroupSocket},
    {"UDP-LISTEN", AddressType::kUdpListen, IpFamily::kAny, 1, 1, "<port>", kListenGroups},
    {"UDP-L", AddressType::kUdpListen, IpFamily::kAny, 1, 1, "<port>", kListenGroups},
    {"UDP4-LISTEN", AddressType::kUdpListen, IpFamily::kIpv4, 1, 1, "<port>", kListenGroups},
    {"UDP6-LISTEN", AddressType::kUdpListen, IpFamily::kIpv6, 1, 1, "<port>", kListenGroups},
    {"UDP-SENDTO", AddressType::kUdpSendto, IpFamily::kAny, 2, 2, "<host>:<port>",
     kGroupApp | kGroupSocket},
    {"UDP-SEND", AddressType::kUdpSendto, IpFamily::kAny, 2, 2, "<host>:<port>",
     kGroupApp | kGroupSocket},
    {"UDP4-SENDTO", AddressType::kUdpSendto, IpFamily::kIpv4, 2, 2, "<host>:<port>",
     kGroupApp | kGroupSocket},
    {"UDP6-SENDTO", AddressType::kUdpSendto, IpFamily::kIpv6, 2, 2, "<host>:<port>",
     kGroupApp | kGroupSocket},
    {"UDP-RECVFROM", AddressType::kUdpRecvfrom, IpFamily::kAny, 1, 1, "<port>",
     kGroupApp | kGroupSocket | kGroupFork},
    {"UDP4-RECVFROM", AddressType::kUdpRecvfrom, IpFamily::kIpv4, 1, 1, "<port>",
     kGroupApp | kGroupSocket | kGroupFork},
    {"UDP6-RECVFROM", AddressType::kUdpRecvfrom, IpFamily::kIpv6, 1, 1, "<port>",
     kGroupApp | kGroupSocket | kGroupFork},
    {"VSOCK-CONNECT", AddressType::kVsockConnect, IpFamily::kAny, 2, 2,
     "<cid>:<port> or <uds-path>:<port>", kConnectGroups},
    {"VSOCK", AddressType::kVsockConnect, IpFamily::kAny, 2, 2, "<cid>:<port> or <uds-path>:<port>",
     kConnectGroups},
    {"VSOCK-LISTEN", AddressType::kVsockListen, IpFamily::kAny, 1, 1, "<port>", kListenGroups},
    {"VSOCK-L", AddressType::kVsockListen, IpFamily::kAny, 1, 1, "<port>", kListenGroups},
    {"HYBRID-VSOCK", AddressType::kHybridVsockConnect, IpFamily::kAny, 2, 2, "<uds-path>:<port>",
     kConnectGroups},
    {"EXEC", AddressType::kExec, IpFamily::kAny, 1, 1, "<command-line>",
     kGroupApp | kGroupExec | kGroupTermios},
    {"SYSTEM", AddressType::kSystem, IpFamily::kAny, 1, 1, "<shell-command>",
     kGroupApp | kGroupExec | kGroupTermios},
    {"OPEN", AddressType::kOpen, IpFamily::kAny, 1, 1, "<filename>",
     kGroupApp | kGroupOpen | kGroupNamed | kGroupTermios},
    {"FILE", AddressType::kOpen, IpFamily::kAny, 1, 1, "<filename>",
     kGroupApp | kGroupOpen | kGroupNamed | kGroupTermios},
    {"CREATE", AddressType::kCreate, IpFamily::kAny, 1, 1, "<filename>",
     kGroupApp | kGroupOpen | kGroupNamed},
    {"CREAT", AddressType::kCreate, IpFamily::kAny, 1, 1, "<filename>",
     kGroupApp | kGroupOpen | kGroupNamed},
    {"GOPEN", AddressType::kGopen, IpFamily::kAny, 1, 1, "<filename>",
     kGroupApp | kGroupOpen | kGroupNamed | kGroupTermios},
    {"PIPE", AddressType::kPipe, IpFamily::kAny, 0, 1, "[<filename>]",
     kGroupApp | kGroupNamed | kGroupOpen},
    {"FIFO", AddressType::kPipe, IpFamily::kAny, 0, 1, "[<filename>]",
     kGroupApp | kGroupNamed | kGroupOpen},
    {"ECHO", AddressType::kPipe, IpFamily::kAny, 0, 1, "[<filename>]",
     kGroupApp | kGroupNamed | kGroupOpen},
    {"PTY", AddressType::kPty, IpFamily::kAny, 0, 0, "", kGroupApp | kGroupPty | kGroupTermios},
};

const AddressTypeInfo* FindType(AddressType type) {
  for (const AddressTypeInfo& info : kTypes) {
    if (info.type == type) return &info;
  }
  return nullptr;
}

// A cursor over the address text implementing socat's lexical rules.
class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ >= text_.size(); }
  bool LookingAt(std::string_view s) const { return text_.substr(pos_, s.size()) == s; }
  void Skip(size_t n) { pos_ += n; }
  size_t pos() const { return pos_; }
  std::string_view Rest() const { return text_.substr(pos_); }

  /// Reads one token up to (not including) an unprotected string from `ends`.
  Status Token(std::initializer_list<std::string_view> ends, std::string* out) {
    return Scan(ends, /*top_level=*/true, out);
  }

 private:
  static constexpr std::string_view kNests[] = {"(", ")", "[", "]", "{", "}"};

  char ResolveEscape(char c) {
    switch (c) {
      case '0':
        return '\0';
      case 'a':
        return '\a';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'v':
        return '\v';
      default:
        return c;
    }
  }

  // top_level: quotes are dropped; nested scans keep them (as socat does).
  Status Scan(std::initializer_list<std::string_view> ends, bool top_level, std::string* out,
              bool quotes_and_nests = true) {
    while (pos_ < text_.size()) {
      for (std::string_view end : ends) {
        if (LookingAt(end)) return Status::Ok();
      }
      char c = text_[pos_];
      if (quotes_and_nests && (c == '\'' || c == '"')) {
        size_t start = pos_++;
        if (!top_level) *out += c;
        std::string_view close = c == '\'' ? "'" : "\"";
        // Inside hard quotes only backslash escapes remain active.
        VMCAT_RETURN_IF_ERROR(Scan({close}, false, out, /*quotes_and_nests=*/c == '"'));
        if (pos_ >= text_.size()) {
          return Status::Error(std::string("unterminated ") + (c == '\'' ? "'" : "\"") +
                               " quote starting at character " + std::to_string(start + 1));
        }
        pos_++;
        if (!top_level) *out += c;
        continue;
      }
      if (quotes_and_nests) {
        bool nested = false;
        for (size_t i = 0; i < std::size(kNests); i += 2) {
          if (c == kNests[i][0]) {
            size_t start = pos_++;
            *out += c;
            VMCAT_RETURN_IF_ERROR(Scan({kNests[i + 1]}, false, out));
            if (pos_ >= text_.size()) {
              return Status::Error("unterminated " + std::string(kNests[i]) +
                                   " starting at character " + std::to_string(start + 1));
            }
            *out += text_[pos_++];
            nested = true;
            break;
          }
        }
        if (nested) continue;
      }
      pos_++;
      if (c == '\\') {
        if (pos_ >= text_.size()) return Status::Error("trailing backslash");
        *out += ResolveEscape(text_[pos_++]);
        continue;
      }
      *out += c;
    }
    return Status::Ok();
  }

  std::string_view text_;
  size_t pos_ = 0;
};

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

Status CheckParams(const SingleAddress& a) {
  const AddressTypeInfo& info = *a.info;
  int n = static_cast<int>(a.params.size());
  if (n >= info.min_params && n <= info.max_params) return Status::Ok();
  std::string want;
  if (info.min_params == info.max_params) {
    want = std::to_string(info.min_params) + (info.min_params == 1 ? " parameter" : " parameters");
  } else {
    want =
        std::to_string(info.min_params) + " to " + std::to_string(info.max_params) + " parameters";
  }
  std::string msg = std::string(info.keyword) + " takes " + want;
  if (info.usage[0] != '\0') msg += " (" + std::string(info.usage) + ")";
  msg += ", got " + std::to_string(n);
  return Status::Error(msg);
}

// Checks numeric parameters that need no I/O to validate.
Status CheckParamValues(SingleAddress* a) {
  switch (a->type()) {
    case AddressType::kFd:
      if (!ParseUnsigned(a->params[0], 1u << 30)) {
        return Status::Error("FD: bad file descriptor number " + Quote(a->params[0]));
      }
      break;
    case AddressType::kVsockConnect:
      if (a->params[0].find('/') != std::string::npos) {
        a->info = FindType(AddressType::kHybridVsockConnect);
      } else if (!ParseUnsigned(a->params[0], UINT32_MAX)) {
        return Status::Error("VSOCK-CONNECT: bad CID " + Quote(a->params[0]) +
                             ": expected a number, or a UNIX socket path containing '/' for "
                             "Firecracker/Cloud Hypervisor hybrid vsock");
      }
      [[fallthrough]];
    case AddressType::kHybridVsockConnect:
      if (!ParseUnsigned(a->params[1], UINT32_MAX)) {
        return Status::Error(std::string(a->info->keyword) + ": bad port " + Quote(a->params[1]) +
                             ": expected a number");
      }
      break;
    case AddressType::kVsockListen:
      if (!ParseUnsigned(a->params[0], UINT32_MAX)) {
        return Status::Error("VSOCK-LISTEN: bad port " + Quote(a->params[0]) +
                             ": expected a number");
      }
      break;
    case AddressType::kUnixConnect:
    case AddressType::kUnixListen:
    case AddressType::kUnixClient:
    case AddressType::kAbstractConnect:
    case AddressType::kAbstractListen:
    case AddressType::kAbstractClient:
    case AddressType::kOpen:
    case AddressType::kCreate:
    case AddressType::kGopen:
    case AddressType::kExec:
    case AddressType::kSystem:
      if (a->params[0].empty()) {
        return Status::Error(std::string(a->info->keyword) + ": empty " +
                             std::string(a->info->usage));
      }
      break;
    default:
      break;
  }
  return Status::Ok();
}

Result<SingleAddress> ParseSingle(Lexer* lex) {
  SingleAddress a;
  std::string keyword;
  VMCAT_RETURN_IF_ERROR(lex->Token({"!!", ",", ":"}, &keyword));
  a.info = FindAddressType(keyword);
  if (a.info == nullptr) {
    if (AllDigits(keyword)) {
      a.info = FindType(AddressType::kFd);
      a.params.push_back(keyword);
    } else if (keyword.find('/') != std::string::npos) {
      a.info = FindType(AddressType::kGopen);
      a.params.push_back(keyword);
    } else if (keyword.empty()) {
      return Status::Error("empty address");
    } else {
      return Status::Error("unknown address type " + Quote(keyword));
    }
  } else {
    while (lex->LookingAt(":")) {
      lex->Skip(1);
      std::string param;
      VMCAT_RETURN_IF_ERROR(lex->Token({"!!", ",", ":"}, &param));
      a.params.push_back(std::move(param));
    }
  }
  VMCAT_RETURN_IF_ERROR(CheckParams(a));
  VMCAT_RETURN_IF_ERROR(CheckParamValues(&a));
  while (lex->LookingAt(",")) {
    lex->Skip(1);
    std::string name;
    VMCAT_RETURN_IF_ERROR(lex->Token({"!!", ",", "=", ":"}, &name));
    std::optional<std::string> value;
    if (lex->LookingAt("=")) {
      lex->Skip(1);
      value.emplace();
      VMCAT_RETURN_IF_ERROR(lex->Token({"!!", ","}, &*value));
    }
    if (name.empty()) {
      if (value) return Status::Error("option value " + Quote(*value) + " without a name");
      continue;  // tolerate ",," and a trailing comma
    }
    std::optional<std::string_view> value_view;
    if (value) value_view = *value;
    VMCAT_RETURN_IF_ERROR(
        ApplyOption(name, value_view, a.info->groups, a.info->keyword, &a.options));
  }
  if (lex->LookingAt(":")) {
    return Status::Error("unexpected ':' after the options of " + std::string(a.info->keyword) +
                         " (options come after all parameters)");
  }
  return a;
}

}  // namespace

const AddressTypeInfo* FindAddressType(std::string_view keyword) {
  for (const AddressTypeInfo& info : kTypes) {
    if (EqualsIgnoreCase(keyword, info.keyword)) {
      // Messages use the canonical keyword: the first entry of the same type and family.
      for (const AddressTypeInfo& canonical : kTypes) {
        if (canonical.type == info.type && canonical.family == info.family &&
            canonical.min_params == info.min_params) {
          return &canonical;
        }
      }
    }
  }
  return nullptr;
}

bool SingleAddress::IsListener() const {
  switch (type()) {
    case AddressType::kUnixListen:
    case AddressType::kAbstractListen:
    case AddressType::kTcpListen:
    case AddressType::kUdpListen:
    case AddressType::kVsockListen:
      return true;
    default:
      return false;
  }
}

bool SingleAddress::IsDatagram() const {
  switch (type()) {
    case AddressType::kUdpConnect:
    case AddressType::kUdpListen:
    case AddressType::kUdpSendto:
    case AddressType::kUdpRecvfrom:
      return true;
    default:
      return false;
  }
}

Result<AddressSpec> ParseAddress(std::string_view text) {
  AddressSpec spec;
  spec.text = std::string(text);
  Lexer lex(text);
  VMCAT_ASSIGN_OR_RETURN(spec.first, ParseSingle(&lex));
  if (lex.LookingAt("!!")) {
    lex.Skip(2);
    VMCAT_ASSIGN_OR_RETURN(SingleAddress second, ParseSingle(&lex));
    spec.write_side = std::move(second);
  }
  if (!lex.AtEnd()) {
    return Status::Error("unexpected " + Quote(lex.Rest()) + " at character " +
                         std::to_string(lex.pos() + 1));
  }
  return spec;
}

}  // namespace vmcat
