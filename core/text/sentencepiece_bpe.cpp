#include "core/text/sentencepiece_bpe.h"

#include <cstdio>

#include "core/error.h"
#include "core/text/unicode.h"

namespace qs::text {

SentencePieceBpe::SentencePieceBpe(BpeModel model, AddedTokens added, SentencePieceOptions options,
                                   SpecialTokens special)
    : Tokenizer(special), model_(std::move(model)), added_(std::move(added)), options_(options) {
  byte_of_id_.assign(model_.tokens.size(), -1);
  char name[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    byte_ids_[b] = model_.find(name);
    if (byte_ids_[b] >= 0) byte_of_id_[byte_ids_[b]] = static_cast<int16_t>(b);
  }
}

std::vector<int32_t> SentencePieceBpe::encode(std::string_view text) const {
  using Prefix = SentencePieceOptions::Prefix;
  std::vector<int32_t> out;
  std::vector<char32_t> cps;
  std::string s;
  for (const auto& seg : added_.split(text)) {
    if (seg.token >= 0) {
      out.push_back(seg.token);
      continue;
    }
    if (size_t bad = decode_utf8(seg.text, cps); bad != std::string_view::npos)
      throw ArgumentError("text to tokenize is not valid UTF-8 at byte offset " + std::to_string(seg.offset + bad));
    s.clear();
    for (char c : seg.text) {
      if (c == ' ')
        s += kSentencePieceSpace;
      else
        s += c;
    }
    const bool starts_with_space = s.compare(0, kSentencePieceSpace.size(), kSentencePieceSpace) == 0;
    const bool prefix = options_.prefix == Prefix::kEverySegment ||
                        (options_.prefix == Prefix::kUnlessSpace && !starts_with_space) ||
                        (options_.prefix == Prefix::kFirstSegment && seg.offset == 0 && !starts_with_space);
    if (prefix) s.insert(0, kSentencePieceSpace);
    if (!options_.split) {
      encode_piece(s, out);
      continue;
    }
    // Metaspace split: each "▁" starts a new piece.
    size_t begin = 0;
    for (size_t i = 1; i <= s.size(); ++i) {
      if (i == s.size() || s.compare(i, kSentencePieceSpace.size(), kSentencePieceSpace) == 0) {
        encode_piece(std::string_view(s).substr(begin, i - begin), out);
        begin = i;
      }
    }
  }
  return out;
}

void SentencePieceBpe::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  std::vector<int32_t> ids;
  if (!cache_.find(piece, ids)) {
    if (model_.ignore_merges) {
      if (int32_t id = model_.find(piece); id >= 0) ids.push_back(id);
    }
    if (ids.empty()) {
      bool last_unk = false;
      for (size_t i = 0; i < piece.size();) {
        const size_t len = utf8_sequence_length(static_cast<unsigned char>(piece[i]));
        const std::string_view ch = piece.substr(i, len);
        i += len;
        if (int32_t id = model_.find(ch); id >= 0) {
          ids.push_back(id);
          last_unk = false;
          continue;
        }
        bool all_bytes = options_.byte_fallback;
        for (char b : ch) all_bytes = all_bytes && byte_ids_[static_cast<uint8_t>(b)] >= 0;
        if (all_bytes) {
          for (char b : ch) ids.push_back(byte_ids_[static_cast<uint8_t>(b)]);
          last_unk = false;
        } else if (model_.unk_id >= 0 && !(options_.fuse_unk && last_unk)) {
          ids.push_back(model_.unk_id);
          last_unk = true;
        }
      }
      model_.merge(ids);
    }
    cache_.insert(piece, ids);
  }
  out.insert(out.end(), ids.begin(), ids.end());
}

std::string SentencePieceBpe::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size())
      throw ArgumentError("token id " + std::to_string(id) + " is outside the vocabulary of " +
                          std::to_string(vocab_size()));
    if (const std::string* c = added_.content(id)) {
      out += *c;
    } else if (byte_of_id_[id] >= 0) {
      out.push_back(static_cast<char>(byte_of_id_[id]));
    } else {
      const std::string& t = model_.tokens[id];
      for (size_t i = 0; i < t.size();) {
        if (t.compare(i, kSentencePieceSpace.size(), kSentencePieceSpace) == 0) {
          out += ' ';
          i += kSentencePieceSpace.size();
        } else {
          out += t[i++];
        }
      }
    }
  }
  // The prefix "▁" was not in the text; HF's Strip/Metaspace decoder drops it.
  if (options_.prefix != SentencePieceOptions::Prefix::kNone && !out.empty() && out.front() == ' ') out.erase(0, 1);
  return out;
}

}  // namespace qs::text
