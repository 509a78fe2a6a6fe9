#pragma once
// quantscope-cli subcommands. Each takes the arguments after its name, prints
// human output on stderr and one JSON line on stdout, and returns the exit code.

#include <string>
#include <vector>

namespace qs::cli {

int run_info(const std::vector<std::string>& args);
int run_plan(const std::vector<std::string>& args);
int run_eval(const std::vector<std::string>& args);
int run_quantize(const std::vector<std::string>& args);
int run_refine(const std::vector<std::string>& args);
int run_export(const std::vector<std::string>& args);
int run_project(const std::vector<std::string>& args);
int run_methods(const std::vector<std::string>& args);
int run_bench_kernels(const std::vector<std::string>& args);

}  // namespace qs::cli
