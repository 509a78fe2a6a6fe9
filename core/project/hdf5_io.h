#pragma once
// A thin layer over the HDF5 C API for the project file: owned handles,
// typed attributes and datasets to and from torch tensors, and errors that
// name the file and the object path ("/layers/model.layers.0.mlp.up_proj/bits")
// instead of HDF5's error stack on stderr. Datasets are chunked with Fletcher-32
// checksums and metadata uses the checksummed v1.8+ formats, so a damaged file
// is reported, not read as numbers.

#include <hdf5.h>
#include <torch/torch.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace qs::project::h5 {

// An owned hid_t of any kind (file, group, dataset, dataspace, type, plist).
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();
  hid_t release() {
    const hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// A location (file or group) with the file's path and its own path, so every
// error names both.
class Node {
 public:
  Node(std::string file, std::string path, Handle h)
      : file_(std::move(file)), path_(std::move(path)), h_(std::move(h)) {}

  static Node create_file(const std::string& file);  // truncates
  static Node open_file(const std::string& file);    // read-only
  // Flushes and closes; errors (disk full) throw qs::IoError. Groups opened
  // from this file must be gone by then.
  void close_file();

  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  hid_t id() const { return h_.get(); }
  std::string child_path(const std::string& name) const;

  Node create_group(const std::string& name) const;  // tracks creation order
  Node group(const std::string& name) const;         // throws FormatError when missing
  bool has(const std::string& name) const;           // link exists (group or dataset)
  // Children in creation order (name order when the file tracks none).
  std::vector<std::string> children() const;

  void set(const std::string& attr, const std::string& v) const;
  void set(const std::string& attr, const char* v) const { set(attr, std::string(v)); }
  void set(const std::string& attr, int64_t v) const;
  void set(const std::string& attr, double v) const;
  void set_bool(const std::string& attr, bool v) const;  // h5py's enum {FALSE, TRUE}

  enum class AttrKind { String, Integer, Float, Bool, Other };
  bool has_attr(const std::string& attr) const;
  AttrKind attr_kind(const std::string& attr) const;
  std::vector<std::string> attrs() const;
  // Each throws qs::FormatError naming the file and attribute when it is
  // missing or of another kind.
  std::string get_string(const std::string& attr) const;
  int64_t get_int(const std::string& attr) const;
  double get_double(const std::string& attr) const;  // integers accepted
  bool get_bool(const std::string& attr) const;

  // Writes a contiguous CPU tensor (float32/64, int32/64, uint8) as a dataset.
  void write(const std::string& name, const torch::Tensor& t) const;
  // A second name for the dataset at absolute path `target` (an HDF5 hard
  // link): stored once, read under either name by any HDF5 reader.
  void link(const std::string& name, const std::string& target) const;
  // Reads a dataset into a tensor of `dtype`; the stored class must match
  // (float/integer). `shape` entries of -1 accept any extent; an empty shape
  // vector accepts any rank. Throws qs::FormatError naming the dataset.
  torch::Tensor read(const std::string& name, torch::ScalarType dtype, const std::vector<int64_t>& shape) const;

 private:
  std::string file_;
  std::string path_;
  Handle h_;
};

}  // namespace qs::project::h5
