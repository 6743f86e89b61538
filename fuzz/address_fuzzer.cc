// libFuzzer target: the socat address grammar must never crash, hang or read
// out of bounds, whatever the text; a successful parse must be internally
// consistent (parameters within the type's bounds).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "address/address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = vmcat::ParseAddress(text);
  if (spec.ok()) {
    for (const vmcat::SingleAddress* a :
         {&spec->first, spec->write_side ? &*spec->write_side : nullptr}) {
      if (a == nullptr) continue;
      int n = static_cast<int>(a->params.size());
      if (n < a->info->min_params || n > a->info->max_params) __builtin_trap();
    }
  } else if (spec.status().message().empty()) {
    __builtin_trap();  // every error must say something
  }
  return 0;
}
