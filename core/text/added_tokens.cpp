#include "core/text/added_tokens.h"

#include <algorithm>

namespace qs::text {

namespace {

// HF strips with Rust's char::is_whitespace; added tokens sit in ASCII text in
// practice, so the ASCII set is what matters here.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

AddedTokens::AddedTokens(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].content.empty()) continue;
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
    by_id_.emplace(tokens_[i].id, i);
  }
  for (auto& list : by_first_byte_)
    std::stable_sort(list.begin(), list.end(), [&](size_t a, size_t b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
}

std::vector<AddedTokens::Segment> AddedTokens::split(std::string_view text) const {
  std::vector<Segment> out;
  size_t text_begin = 0;  // start of the pending text segment
  auto flush = [&](size_t end) {
    if (end > text_begin) out.push_back({text.substr(text_begin, end - text_begin), text_begin, -1});
  };
  for (size_t i = 0; i < text.size();) {
    const AddedToken* hit = nullptr;
    for (size_t k : by_first_byte_[static_cast<unsigned char>(text[i])]) {
      if (text.compare(i, tokens_[k].content.size(), tokens_[k].content) == 0) {
        hit = &tokens_[k];
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    size_t before = i;
    if (hit->lstrip)
      while (before > text_begin && is_space(text[before - 1])) --before;
    flush(before);
    out.push_back({text.substr(i, hit->content.size()), i, hit->id});
    i += hit->content.size();
    if (hit->rstrip)
      while (i < text.size() && is_space(text[i])) ++i;
    text_begin = i;
  }
  flush(text.size());
  return out;
}

const std::string* AddedTokens::content(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second].content;
}

}  // namespace qs::text
