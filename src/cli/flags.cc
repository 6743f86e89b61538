#include "cli/flags.h"

#include "base/strings.h"

namespace vmcat {

FlagSet::FlagSet(std::string usage, std::string description)
    : usage_(std::move(usage)), description_(std::move(description)) {
  Bool("-h,--help", &help_, "show this help");
}

void FlagSet::Add(const std::string& names, std::string metavar, std::string help,
                  std::function<Status(const std::string&)> set) {
  Flag f;
  f.names = Split(names, ',');
  f.metavar = std::move(metavar);
  f.help = std::move(help);
  f.set = std::move(set);
  flags_.push_back(std::move(f));
}

void FlagSet::Bool(const std::string& names, bool* out, const std::string& help) {
  Add(names, "", help, [out](const std::string&) {
    *out = true;
    return Status::Ok();
  });
}

void FlagSet::String(const std::string& names, std::string* out, const std::string& metavar,
                     const std::string& help) {
  Add(names, metavar, help, [out](const std::string& v) {
    *out = v;
    return Status::Ok();
  });
}

void FlagSet::Strings(const std::string& names, std::vector<std::string>* out,
                      const std::string& metavar, const std::string& help) {
  Add(names, metavar, help, [out](const std::string& v) {
    out->push_back(v);
    return Status::Ok();
  });
}

void FlagSet::Seconds(const std::string& names, double* out, const std::string& help) {
  Add(names, "SECONDS", help, [out](const std::string& v) {
    auto s = ParseSeconds(v);
    if (!s) return Status::Error("expected seconds such as 30 or 0.5, got " + Quote(v));
    *out = *s;
    return Status::Ok();
  });
}

void FlagSet::Unsigned(const std::string& names, unsigned* out, const std::string& metavar,
                       const std::string& help) {
  Add(names, metavar, help, [out](const std::string& v) {
    auto n = ParseUnsigned(v, UINT32_MAX);
    if (!n) return Status::Error("expected a whole number, got " + Quote(v));
    *out = static_cast<unsigned>(*n);
    return Status::Ok();
  });
}

const FlagSet::Flag* FlagSet::Find(const std::string& name) const {
  for (const Flag& f : flags_) {
    for (const std::string& n : f.names) {
      if (n == name) return &f;
    }
  }
  return nullptr;
}

Status FlagSet::Parse(const std::vector<std::string>& args, std::vector<std::string>* positional,
                      std::vector<std::string>* rest) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      auto* dest = rest != nullptr ? rest : positional;
      dest->insert(dest->end(), args.begin() + static_cast<long>(i) + 1, args.end());
      return Status::Ok();
    }
    if (a.size() < 2 || a[0] != '-') {
      positional->push_back(a);
      continue;
    }
    std::string name = a, value;
    bool has_value = false;
    if (a[1] == '-') {
      size_t eq = a.find('=');
      if (eq != std::string::npos) {
        name = a.substr(0, eq);
        value = a.substr(eq + 1);
        has_value = true;
      }
    } else if (a.size() > 2) {
      // -abc: grouped booleans, or -tVALUE for a short flag with a value.
      const Flag* first = Find(a.substr(0, 2));
      if (first != nullptr && !first->metavar.empty()) {
        name = a.substr(0, 2);
        value = a.substr(2);
        has_value = true;
      } else {
        for (size_t j = 1; j < a.size(); ++j) {
          std::string one = std::string("-") + a[j];
          const Flag* f = Find(one);
          if (f == nullptr || !f->metavar.empty()) {
            return Status::Error("unknown option " + Quote(one));
          }
          VMCAT_RETURN_IF_ERROR(f->set(""));
        }
        continue;
      }
    }
    const Flag* f = Find(name);
    if (f == nullptr) return Status::Error("unknown option " + Quote(name));
    if (f->metavar.empty()) {
      if (has_value) return Status::Error("option " + name + " takes no value");
      VMCAT_RETURN_IF_ERROR(f->set(""));
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return Status::Error("option " + name + " needs a value");
      value = args[++i];
    }
    Status s = f->set(value);
    if (!s.ok()) return s.Prefix("option " + name);
  }
  return Status::Ok();
}

std::string FlagSet::Help() const {
  std::string out = "Usage: " + usage_ + "\n";
  if (!description_.empty()) out += description_ + "\n";
  out += "\nOptions:\n";
  for (const Flag& f : flags_) {
    std::string left = "  ";
    for (size_t i = 0; i < f.names.size(); ++i)
      left += (i ? ", " : "") + f.names[i];
    if (!f.metavar.empty()) left += " " + f.metavar;
    if (left.size() < 28)
      left.resize(28, ' ');
    else
      left += "\n" + std::string(28, ' ');
    out += left + f.help + "\n";
  }
  return out;
}

}  // namespace vmcat
