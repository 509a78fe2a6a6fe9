#include "core/pipeline/run_journal.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "core/checkpoint/block_tensors.h"
#include "core/error.h"
#include "core/io/file_fingerprint.h"
#include "core/io/json_brief.h"
#include "core/io/json_int.h"
#include "core/io/mapped_tensor.h"
#include "core/io/safetensors.h"
#include "core/io/small_files.h"
#include "core/model/quantized_linear_op.h"
#include "core/text/tokenizer.h"

namespace qs::pipeline {
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;
using model::LinearRole;

namespace {

constexpr const char* kJournalFile = "journal.json";
constexpr const char* kFormat = "quantscope-journal";
constexpr const char* kBlockPrefix = "block_";
constexpr const char* kRefinementPrefix = "refinement_";
// A linear's analyses sit in its block's file as "<linear>.analysis.<key>".
constexpr const char* kAnalysis = ".analysis.";

fs::path block_file(const fs::path& dir, int64_t layer) {
  return dir / (kBlockPrefix + std::to_string(layer) + ".safetensors");
}

std::string shown(const ojson& v) {
  auto s = v.dump();
  return s.size() > 160 ? s.substr(0, 157) + "..." : s;
}

std::string shape_of(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// JSON has no NaN: a metric that was not measured is stored as null.
ojson number_or_null(double v) { return std::isfinite(v) ? ojson(v) : ojson(nullptr); }

double number_field(const ojson& o, const char* key, const std::string& file, const std::string& field) {
  if (o.contains(key) && o[key].is_number()) return o[key].get<double>();
  if (o.contains(key) && o[key].is_null()) return std::numeric_limits<double>::quiet_NaN();
  throw FormatError(file, field + "." + key, "missing or neither a number nor null");
}

void create_journal_directory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError(dir.string(), "cannot create the journal directory: " + ec.message());
}

bool is_journal_entry(const fs::path& p) {
  const auto name = p.filename().string();
  return name.rfind(kJournalFile, 0) == 0 || name.rfind(kBlockPrefix, 0) == 0 ||
         name.rfind(kRefinementPrefix, 0) == 0 || name.rfind(io::kSpillFilePrefix, 0) == 0;
}

}  // namespace

ojson journal_request(const RunIdentity& run) {
  const auto absolute = [](const fs::path& p) { return fs::absolute(p).lexically_normal().string(); };
  // The calibration's token ids depend on the tokenizer, which a directory's
  // fingerprint leaves out.
  ojson tokenizer = ojson::array();
  for (const auto& f : text::tokenizer_files(run.model)) tokenizer.push_back(io::file_fingerprint(f));
  ojson request = {{"model", absolute(run.model)},
                   {"model_fingerprint", io::file_fingerprint(run.model)},
                   {"tokenizer_fingerprint", std::move(tokenizer)}};
  if (!run.quantized.empty()) {
    request["quantized"] = absolute(run.quantized);
    request["quantized_fingerprint"] = io::file_fingerprint(run.quantized);
  }
  request["plan"] = ojson::parse(run.plan_json);
  request["calibration"] = {
      {"text", absolute(run.calibration_text)}, {"nsamples", run.nsamples}, {"seqlen", run.seqlen}, {"seed", run.seed}};
  request["calibration_fingerprint"] = io::file_fingerprint(run.calibration_text);
  request["device"] = run.device;
  request["dtype"] = run.dtype;
  request["batch"] = run.batch;
  request["analyses"] = run.analyses;
  // Only where set, so journals of earlier runs keep their names.
  if (run.all_experts) request["all_experts"] = true;
  return request;
}

std::string journal_name(const ojson& request) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (const unsigned char c : request.dump()) h = (h ^ c) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::string("run-") + hex;
}

RunJournal::RunJournal(fs::path dir, ojson request) : dir_(std::move(dir)), request_(std::move(request)) {
  const auto path = dir_ / kJournalFile;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    // A directory that holds something else is no place for files that are
    // deleted, with the directory, once the run is saved. Block files without
    // journal.json are a first block whose recording was cut short: nothing
    // names them, so they go.
    if (!fs::exists(dir_, ec)) return;
    if (!fs::is_directory(dir_, ec))
      throw IoError(dir_.string(), "exists and is not a run journal; refusing to write a journal there");
    for (const auto& e : fs::directory_iterator(dir_, ec))
      if (!is_journal_entry(e.path()))
        throw IoError(dir_.string(), "holds " + e.path().filename().string() +
                                         " and is not a run journal; refusing to write a journal there");
    remove_journal(dir_);
    return;
  }
  const std::string file = path.string();
  const auto doc = io::read_versioned_json(path, kFormat, kJournalFormatVersion);
  if (!doc.contains("request") || !doc["request"].is_object())
    throw FormatError(file, "request", "missing or not an object");
  const auto& recorded = doc["request"];
  const auto refuse = [&](const std::string& key, const std::string& was, const std::string& now) {
    throw ArgumentError(dir_.string() + " is the journal of a run with " + key + " " + was + ", not " + now +
                        ": repeat that run's command to go on with it, or remove " + dir_.string() + " to start over");
  };
  for (const auto& [key, value] : request_.items())
    if (!recorded.contains(key) || recorded[key] != value)
      refuse(key, recorded.contains(key) ? shown(recorded[key]) : "unset", shown(value));
  for (const auto& [key, value] : recorded.items())
    if (!request_.contains(key)) refuse(key, shown(value), "unset");
  if (!doc.contains("blocks") || !doc["blocks"].is_array())
    throw FormatError(file, "blocks", "missing or not an array");
  for (size_t i = 0; i < doc["blocks"].size(); ++i) {
    const auto& b = doc["blocks"][i];
    const std::string field = "blocks[" + std::to_string(i) + "]";
    if (!b.is_object() || !b.contains("layer") || !b["layer"].is_number_integer() ||
        b["layer"].get<int64_t>() != static_cast<int64_t>(i))
      throw FormatError(file, field + ".layer",
                        "missing or not " + std::to_string(i) + " (blocks are recorded in order)");
    if (!b.contains("linears") || !b["linears"].is_object())
      throw FormatError(file, field + ".linears", "missing or not an object");
    blocks_.push_back(b);
  }
}

JournalBlocks RunJournal::read(const model::Decoder& decoder) const {
  const std::string file = (dir_ / kJournalFile).string();
  if (finished_blocks() > decoder.num_layers())
    throw FormatError(file, "blocks",
                      std::to_string(finished_blocks()) + " finished blocks, but the model has " +
                          std::to_string(decoder.num_layers()));
  JournalBlocks out;
  for (int64_t l = 0; l < finished_blocks(); ++l) {
    const auto& b = blocks_[static_cast<size_t>(l)];
    const std::string field = "blocks[" + std::to_string(l) + "]";
    const auto path = block_file(dir_, l);
    const io::SafetensorsSet set({path});
    const auto& st = set.files().front();
    const std::string st_file = path.string();
    std::set<std::string> used;
    auto records = checkpoint::read_quantized_linears(b["linears"], set, file, used);
    const auto metrics = checkpoint::provenance_fields(ojson{{"linears", b["linears"]}}, file).linears;
    const auto tensor = [&](const std::string& name, const torch::Tensor& like) {
      if (!st.find(name)) throw FormatError(st_file, "tensor '" + name + "'", "missing");
      const auto t = st.load(name);
      if (t.sizes() != like.sizes())
        throw FormatError(st_file, "tensor '" + name + "'",
                          "shape " + shape_of(t) + ", where the model has " + shape_of(like));
      return t.to(like.device(), like.scalar_type());
    };

    const std::string p = "model.layers." + std::to_string(l) + ".";
    model::BlockState state = decoder.block_state(l);
    state.input_norm = tensor(decoder.norm_name(l, model::NormRole::Input), state.input_norm);
    state.post_attention_norm = tensor(decoder.norm_name(l, model::NormRole::PostAttention), state.post_attention_norm);
    // AWQ scales an MoE block's router with the experts it feeds.
    if (state.router.defined()) state.router = tensor(p + "mlp.gate.weight", state.router);
    if (state.shared_expert_gate.defined())
      state.shared_expert_gate = tensor(p + "mlp.shared_expert_gate.weight", state.shared_expert_gate);
    const auto roles = decoder.linear_roles(l);
    for (size_t i = 0; i < roles.size(); ++i) {
      const auto role = roles[i];
      const auto name = model::linear_name(l, role);
      const auto current = decoder.linear(l, role);
      auto& op = state.linears[i];
      LayerResult lr;
      lr.name = name;
      lr.layer = l;
      lr.role = role;
      if (auto node = records.extract(name); !node.empty()) {
        const auto& q = node.mapped();
        if (q.in_features != current->in_features() || q.out_features != current->out_features())
          throw FormatError(file, "linears." + name,
                            "is " + std::to_string(q.out_features) + " × " + std::to_string(q.in_features) +
                                ", where the model has " + std::to_string(current->out_features()) + " × " +
                                std::to_string(current->in_features()));
        lr.record = std::make_shared<const quant::QuantizedLinear>(std::move(node.mapped()));
        op = std::make_shared<model::QuantizedLinearOp>(lr.record, decoder.device(), decoder.dtype());
        if (auto m = metrics.find(name); m != metrics.end()) {
          lr.weight_mse = m->second.weight_mse;
          lr.output_rel_mse = m->second.output_rel_mse;
          lr.seconds = m->second.seconds;
        }
      } else {
        const auto bias = current->bias().defined() ? tensor(name + ".bias", current->bias()) : torch::Tensor();
        op = std::make_shared<model::DenseLinear>(tensor(name + ".weight", current->dense_weight()), bias);
      }
      const std::string prefix = name + kAnalysis;
      for (const auto& e : st.entries())
        if (e.name.rfind(prefix, 0) == 0) lr.analyses[e.name.substr(prefix.size())] = st.load(e.name);
      out.layers.push_back(std::move(lr));
    }
    if (!records.empty())
      throw FormatError(file, "linears." + records.begin()->first, "is not a linear of block " + std::to_string(l));
    out.states.push_back(std::move(state));

    BlockResult br;
    br.layer = l;
    br.output_mse = number_field(b, "output_mse", file, field);
    br.output_rel_mse = number_field(b, "output_rel_mse", file, field);
    br.fp_rel_mse = number_field(b, "fp_rel_mse", file, field);
    if (const auto it = b.find("expert_tokens"); it != b.end()) {
      if (!it->is_array() || static_cast<int64_t>(it->size()) != decoder.config().num_experts)
        throw FormatError(file, field + ".expert_tokens",
                          "expected a list of " + std::to_string(decoder.config().num_experts) + " token counts");
      for (const auto& n : *it) {
        if (io::json_int64(n).value_or(-1) < 0)
          throw FormatError(file, field + ".expert_tokens", "entries must be token counts, found " + io::json_brief(n));
        br.expert_tokens.push_back(n.get<int64_t>());
      }
    }
    br.seconds = number_field(b, "seconds", file, field);
    out.blocks.push_back(br);
  }
  return out;
}

void RunJournal::record(const model::Decoder& decoder, const BlockResult& result,
                        const std::vector<LayerResult>& layers) {
  QS_ASSERT(result.layer == finished_blocks(), "the journal records blocks in order");
  create_journal_directory(dir_);
  checkpoint::Provenance provenance;
  for (const auto& lr : layers)
    if (lr.record)
      provenance.linears[lr.name] = {lr.choice.method, lr.choice.params.values(), lr.weight_mse, lr.output_rel_mse,
                                     lr.seconds};
  checkpoint::NamedTensors tensors;
  ojson linears = ojson::object();
  checkpoint::append_block_tensors(decoder, result.layer, provenance, tensors, linears);
  for (const auto& lr : layers)
    for (const auto& [key, t] : lr.analyses)
      tensors.push_back(io::pending(lr.name + kAnalysis + key, t.to(torch::kCPU)));
  io::write_safetensors(block_file(dir_, result.layer), tensors, {{"format", "pt"}});

  auto blocks = blocks_;
  ojson block = {{"layer", result.layer},
                 {"output_mse", number_or_null(result.output_mse)},
                 {"output_rel_mse", number_or_null(result.output_rel_mse)},
                 {"fp_rel_mse", number_or_null(result.fp_rel_mse)},
                 {"seconds", number_or_null(result.seconds)},
                 {"linears", linears}};
  if (!result.expert_tokens.empty()) block["expert_tokens"] = result.expert_tokens;
  blocks.push_back(std::move(block));
  write_index(std::move(blocks));
}

void RunJournal::begin() {
  std::error_code ec;
  if (fs::exists(dir_ / kJournalFile, ec)) return;
  create_journal_directory(dir_);
  write_index(blocks_);
}

void RunJournal::write_index(std::vector<ojson> blocks) {
  const ojson doc = {
      {"format", kFormat}, {"format_version", kJournalFormatVersion}, {"request", request_}, {"blocks", blocks}};
  io::write_file_atomically(dir_ / kJournalFile, doc.dump(1) + "\n");
  blocks_ = std::move(blocks);
}

fs::path RunJournal::refinement_state_file(size_t index) const {
  return dir_ / (kRefinementPrefix + std::to_string(index) + ".safetensors");
}

bool RunJournal::has_refinement_state() const {
  std::error_code ec;
  return fs::exists(refinement_state_file(0), ec);
}

void remove_journal(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  // journal.json first: cut short after it, what is left names no block file
  // that is gone.
  if (fs::remove(dir / kJournalFile, ec); ec)
    throw IoError((dir / kJournalFile).string(), "cannot remove the run journal: " + ec.message());
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (is_journal_entry(e.path())) entries.push_back(e.path());
  for (const auto& e : entries) fs::remove(e, ec);
  fs::remove(dir, ec);  // only when nothing else is left in it
}

void prune_journals(const fs::path& root, const fs::path& current, size_t keep) {
  std::error_code ec;
  std::vector<std::pair<fs::file_time_type, fs::path>> journals;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory(ec) && e.path() != current && e.path().filename().string().rfind("run-", 0) == 0)
      journals.emplace_back(fs::last_write_time(e.path() / kJournalFile, ec), e.path());
  std::sort(journals.begin(), journals.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = keep; i < journals.size(); ++i) {
    try {
      remove_journal(journals[i].second);
    } catch (const Error&) {
      // Tried again by the next call.
    }
  }
}

void RunJournal::remove() {
  remove_journal(dir_);
  blocks_.clear();
}

}  // namespace qs::pipeline
