#pragma once
// Text files for evaluation and calibration.

#include <filesystem>
#include <string>

namespace qs::text {

// The file's bytes, as llama-perplexity reads them (no newline conversion).
// Throws qs::IoError, or qs::FormatError naming the file and the byte offset
// of the first invalid UTF-8 sequence.
std::string read_text_file(const std::filesystem::path& path);

// The HF datasets view of a line-oriented text (WikiText rows): lines with
// "\r\n" or "\n" endings become rows that keep a "\n", blank lines become empty
// rows, and the rows are joined with "\n\n" as GPTQ's and most papers'
// evaluation code does: "\n\n".join(test["text"]).
std::string join_rows_hf(const std::string& text);

}  // namespace qs::text
