#pragma once
// One number in printf notation ("%.3e"), for log lines.

#include <cstdio>
#include <string>

namespace qs {

inline std::string format_number(const char* printf_format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, printf_format, value);
  return buf;
}

}  // namespace qs
