#include "core/project/hdf5_io.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace qs::project::h5 {
namespace {

// HDF5 prints its error stack to stderr unless told not to; the setting is
// per thread in thread-safe builds, so every entry point silences it.
void silence() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

herr_t collect(unsigned n, const H5E_error2_t* e, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (n < 2 && e->desc && *e->desc) {
    if (!out->empty()) out->append("; ");
    out->append(e->desc);
  }
  return 0;
}

// The innermost messages of HDF5's error stack, which say what was wrong.
std::string hdf5_reason() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg.empty() ? "HDF5 reported an error" : msg;
}

[[noreturn]] void format_error(const std::string& file, const std::string& field, const std::string& detail) {
  throw FormatError(file, field, detail);
}

Handle checked(hid_t id, const std::string& file, const std::string& field, const char* what) {
  if (id < 0) format_error(file, field, std::string(what) + ": " + hdf5_reason());
  return Handle(id);
}

void check_write(herr_t rc, const std::string& file, const std::string& field) {
  if (rc < 0) throw IoError(file, "cannot write " + field + ": " + hdf5_reason());
}

hid_t file_type_of(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32:
      return H5T_IEEE_F32LE;
    case torch::kFloat64:
      return H5T_IEEE_F64LE;
    case torch::kInt32:
      return H5T_STD_I32LE;
    case torch::kInt64:
      return H5T_STD_I64LE;
    case torch::kUInt8:
      return H5T_STD_U8LE;
    default:
      return H5I_INVALID_HID;
  }
}

hid_t memory_type_of(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32:
      return H5T_NATIVE_FLOAT;
    case torch::kFloat64:
      return H5T_NATIVE_DOUBLE;
    case torch::kInt32:
      return H5T_NATIVE_INT32;
    case torch::kInt64:
      return H5T_NATIVE_INT64;
    case torch::kUInt8:
      return H5T_NATIVE_UINT8;
    default:
      return H5I_INVALID_HID;
  }
}

Handle bool_type() {
  Handle t(H5Tenum_create(H5T_NATIVE_INT8));
  const int8_t f = 0, v = 1;
  H5Tenum_insert(t.get(), "FALSE", &f);
  H5Tenum_insert(t.get(), "TRUE", &v);
  return t;
}

std::string shape_text(const std::vector<hsize_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// Chunks of at most ~4 MiB along the first dimension keep Fletcher-32 cheap
// to verify and reads of one layer small.
std::vector<hsize_t> chunk_of(const std::vector<hsize_t>& dims, size_t elem) {
  std::vector<hsize_t> c = dims;
  hsize_t row = elem;
  for (size_t i = 1; i < dims.size(); ++i) row *= dims[i];
  const hsize_t rows = std::max<hsize_t>(1, (hsize_t{4} << 20) / std::max<hsize_t>(1, row));
  c[0] = std::min(dims[0], rows);
  return c;
}

}  // namespace

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() {
  if (id_ >= 0) H5Idec_ref(id_);
  id_ = H5I_INVALID_HID;
}

Node Node::create_file(const std::string& file) {
  silence();
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
  // 1.10's chunk indexes carry checksums; 1.8's version-1 B-trees do not, and
  // a damaged one reads as chunks never written: zeros, without an error.
  H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_LATEST);
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE));
  H5Pset_link_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  // No timestamps in object headers: saving the same project twice gives the same bytes.
  H5Pset_obj_track_times(fcpl.get(), false);
  const hid_t id = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get());
  if (id < 0) throw IoError(file, "cannot create: " + hdf5_reason());
  return Node(file, "/", Handle(id));
}

Node Node::open_file(const std::string& file) {
  silence();
  if (H5Fis_hdf5(file.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    format_error(file, "file", "not a readable HDF5 file (missing, truncated or damaged)");
  }
  const hid_t id = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) format_error(file, "file", "cannot open as HDF5 (truncated or damaged?): " + hdf5_reason());
  return Node(file, "/", Handle(id));
}

void Node::close_file() {
  silence();
  if (H5Fflush(h_.get(), H5F_SCOPE_GLOBAL) < 0) throw IoError(file_, "cannot flush: " + hdf5_reason());
  if (H5Fclose(h_.release()) < 0) throw IoError(file_, "cannot close: " + hdf5_reason());
}

std::string Node::child_path(const std::string& name) const { return path_ == "/" ? "/" + name : path_ + "/" + name; }

Node Node::create_group(const std::string& name) const {
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE));
  H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  H5Pset_obj_track_times(gcpl.get(), false);
  const hid_t id = H5Gcreate2(h_.get(), name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT);
  if (id < 0) throw IoError(file_, "cannot create group " + child_path(name) + ": " + hdf5_reason());
  return Node(file_, child_path(name), Handle(id));
}

bool Node::has(const std::string& name) const {
  const htri_t r = H5Lexists(h_.get(), name.c_str(), H5P_DEFAULT);
  if (r < 0) format_error(file_, child_path(name), "cannot look up: " + hdf5_reason());
  return r > 0;
}

Node Node::group(const std::string& name) const {
  if (!has(name)) format_error(file_, child_path(name), "missing group");
  H5O_info_t info;
  if (H5Oget_info_by_name(h_.get(), name.c_str(), &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_GROUP)
    format_error(file_, child_path(name), "is not a group");
  return Node(file_, child_path(name),
              checked(H5Gopen2(h_.get(), name.c_str(), H5P_DEFAULT), file_, child_path(name), "cannot open group"));
}

std::vector<std::string> Node::children() const {
  std::vector<std::string> names;
  auto add = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  hsize_t idx = 0;
  if (H5Literate(h_.get(), H5_INDEX_CRT_ORDER, H5_ITER_INC, &idx, add, &names) < 0) {
    H5Eclear2(H5E_DEFAULT);
    names.clear();
    idx = 0;
    if (H5Literate(h_.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, add, &names) < 0)
      format_error(file_, path_, "cannot list members: " + hdf5_reason());
  }
  return names;
}

namespace {

void write_attr(hid_t obj, const std::string& file, const std::string& field, const std::string& attr, hid_t type,
                const void* data) {
  Handle space(H5Screate(H5S_SCALAR));
  if (H5Aexists(obj, attr.c_str()) > 0) H5Adelete(obj, attr.c_str());
  Handle a(H5Acreate2(obj, attr.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid()) throw IoError(file, "cannot create attribute " + field + ": " + hdf5_reason());
  check_write(H5Awrite(a.get(), type, data), file, field);
}

}  // namespace

void Node::set(const std::string& attr, const std::string& v) const {
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.get(), std::max<size_t>(1, v.size()));
  H5Tset_strpad(t.get(), H5T_STR_NULLPAD);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  std::string buf = v.empty() ? std::string(1, '\0') : v;
  write_attr(h_.get(), file_, path_ + "@" + attr, attr, t.get(), buf.data());
}

void Node::set(const std::string& attr, int64_t v) const {
  write_attr(h_.get(), file_, path_ + "@" + attr, attr, H5T_NATIVE_INT64, &v);
}

void Node::set(const std::string& attr, double v) const {
  write_attr(h_.get(), file_, path_ + "@" + attr, attr, H5T_NATIVE_DOUBLE, &v);
}

void Node::set_bool(const std::string& attr, bool v) const {
  const auto t = bool_type();
  const int8_t b = v ? 1 : 0;
  write_attr(h_.get(), file_, path_ + "@" + attr, attr, t.get(), &b);
}

bool Node::has_attr(const std::string& attr) const {
  const htri_t r = H5Aexists(h_.get(), attr.c_str());
  if (r < 0) format_error(file_, path_ + "@" + attr, "cannot look up: " + hdf5_reason());
  return r > 0;
}

std::vector<std::string> Node::attrs() const {
  std::vector<std::string> names;
  auto add = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  hsize_t idx = 0;
  if (H5Aiterate2(h_.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, add, &names) < 0)
    format_error(file_, path_, "cannot list attributes: " + hdf5_reason());
  return names;
}

namespace {

struct OpenAttr {
  Handle attr;
  Handle type;
};

OpenAttr open_attr(hid_t obj, const std::string& file, const std::string& field, const std::string& attr) {
  const htri_t exists = H5Aexists(obj, attr.c_str());
  if (exists <= 0) format_error(file, field, exists < 0 ? "cannot look up: " + hdf5_reason() : "missing attribute");
  Handle a = checked(H5Aopen(obj, attr.c_str(), H5P_DEFAULT), file, field, "cannot open attribute");
  Handle space = checked(H5Aget_space(a.get()), file, field, "cannot read dataspace");
  if (H5Sget_simple_extent_type(space.get()) != H5S_SCALAR) format_error(file, field, "expected a scalar attribute");
  Handle t = checked(H5Aget_type(a.get()), file, field, "cannot read type");
  return {std::move(a), std::move(t)};
}

bool is_bool_enum(hid_t t) {
  if (H5Tget_class(t) != H5T_ENUM || H5Tget_nmembers(t) != 2) return false;
  char* n0 = H5Tget_member_name(t, 0);
  char* n1 = H5Tget_member_name(t, 1);
  const bool ok = n0 && n1 && std::strcmp(n0, "FALSE") == 0 && std::strcmp(n1, "TRUE") == 0;
  H5free_memory(n0);
  H5free_memory(n1);
  return ok;
}

}  // namespace

Node::AttrKind Node::attr_kind(const std::string& attr) const {
  const auto a = open_attr(h_.get(), file_, path_ + "@" + attr, attr);
  switch (H5Tget_class(a.type.get())) {
    case H5T_STRING:
      return AttrKind::String;
    case H5T_INTEGER:
      return AttrKind::Integer;
    case H5T_FLOAT:
      return AttrKind::Float;
    case H5T_ENUM:
      return is_bool_enum(a.type.get()) ? AttrKind::Bool : AttrKind::Other;
    default:
      return AttrKind::Other;
  }
}

std::string Node::get_string(const std::string& attr) const {
  const std::string field = path_ + "@" + attr;
  const auto a = open_attr(h_.get(), file_, field, attr);
  if (H5Tget_class(a.type.get()) != H5T_STRING) format_error(file_, field, "expected a string");
  if (H5Tis_variable_str(a.type.get()) > 0) {
    Handle mt(H5Tcopy(H5T_C_S1));
    H5Tset_size(mt.get(), H5T_VARIABLE);
    char* s = nullptr;
    if (H5Aread(a.attr.get(), mt.get(), &s) < 0) format_error(file_, field, "cannot read: " + hdf5_reason());
    std::string out = s ? s : "";
    H5free_memory(s);
    return out;
  }
  const size_t n = H5Tget_size(a.type.get());
  if (n == 0 || n > (size_t{64} << 20)) format_error(file_, field, "implausible string size " + std::to_string(n));
  std::string buf(n, '\0');
  if (H5Aread(a.attr.get(), a.type.get(), buf.data()) < 0) format_error(file_, field, "cannot read: " + hdf5_reason());
  buf.resize(std::strlen(buf.c_str()));
  return buf;
}

int64_t Node::get_int(const std::string& attr) const {
  const std::string field = path_ + "@" + attr;
  const auto a = open_attr(h_.get(), file_, field, attr);
  if (H5Tget_class(a.type.get()) != H5T_INTEGER) format_error(file_, field, "expected an integer");
  int64_t v = 0;
  if (H5Aread(a.attr.get(), H5T_NATIVE_INT64, &v) < 0) format_error(file_, field, "cannot read: " + hdf5_reason());
  return v;
}

double Node::get_double(const std::string& attr) const {
  const std::string field = path_ + "@" + attr;
  const auto a = open_attr(h_.get(), file_, field, attr);
  const auto cls = H5Tget_class(a.type.get());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) format_error(file_, field, "expected a number");
  double v = 0;
  if (H5Aread(a.attr.get(), H5T_NATIVE_DOUBLE, &v) < 0) format_error(file_, field, "cannot read: " + hdf5_reason());
  return v;
}

bool Node::get_bool(const std::string& attr) const {
  const std::string field = path_ + "@" + attr;
  const auto a = open_attr(h_.get(), file_, field, attr);
  if (!is_bool_enum(a.type.get())) format_error(file_, field, "expected a boolean (enum FALSE/TRUE)");
  const auto t = bool_type();
  int8_t b = 0;
  if (H5Aread(a.attr.get(), t.get(), &b) < 0) format_error(file_, field, "cannot read: " + hdf5_reason());
  return b != 0;
}

void Node::link(const std::string& name, const std::string& target) const {
  silence();
  if (H5Lcreate_hard(h_.get(), target.c_str(), h_.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0)
    throw IoError(file_, "cannot link " + child_path(name) + " to " + target + ": " + hdf5_reason());
}

void Node::write(const std::string& name, const torch::Tensor& t) const {
  silence();
  const std::string field = child_path(name);
  const hid_t ftype = file_type_of(t.scalar_type());
  if (ftype < 0 || t.device() != torch::kCPU) throw ArgumentError("cannot store " + field + ": unsupported tensor");
  const auto c = t.contiguous();
  std::vector<hsize_t> dims(static_cast<size_t>(c.dim()));
  for (int64_t i = 0; i < c.dim(); ++i) dims[static_cast<size_t>(i)] = static_cast<hsize_t>(c.size(i));
  Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                            : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_obj_track_times(dcpl.get(), false);
  if (!dims.empty() && c.numel() > 0) {
    const auto chunk = chunk_of(dims, c.element_size());
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    H5Pset_fletcher32(dcpl.get());
  }
  Handle ds(H5Dcreate2(h_.get(), name.c_str(), ftype, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
  if (!ds.valid()) throw IoError(file_, "cannot create dataset " + field + ": " + hdf5_reason());
  if (c.numel() > 0)
    check_write(H5Dwrite(ds.get(), memory_type_of(c.scalar_type()), H5S_ALL, H5S_ALL, H5P_DEFAULT, c.data_ptr()), file_,
                field);
}

torch::Tensor Node::read(const std::string& name, torch::ScalarType dtype, const std::vector<int64_t>& shape) const {
  silence();
  const std::string field = child_path(name);
  if (!has(name)) format_error(file_, field, "missing dataset");
  H5O_info_t info;
  if (H5Oget_info_by_name(h_.get(), name.c_str(), &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_DATASET)
    format_error(file_, field, "is not a dataset");
  Handle ds = checked(H5Dopen2(h_.get(), name.c_str(), H5P_DEFAULT), file_, field, "cannot open dataset");
  Handle space = checked(H5Dget_space(ds.get()), file_, field, "cannot read dataspace");
  Handle ftype = checked(H5Dget_type(ds.get()), file_, field, "cannot read type");
  const auto cls = H5Tget_class(ftype.get());
  const bool want_float = dtype == torch::kFloat32 || dtype == torch::kFloat64;
  if (cls != (want_float ? H5T_FLOAT : H5T_INTEGER))
    format_error(file_, field, std::string("expected ") + (want_float ? "floating-point" : "integer") + " data");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 8) format_error(file_, field, "bad rank");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  bool ok = shape.empty() || shape.size() == dims.size();
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = shape[i] < 0 || static_cast<hsize_t>(shape[i]) == dims[i];
  if (!ok) {
    std::vector<hsize_t> want;
    for (auto s : shape) want.push_back(s < 0 ? 0 : static_cast<hsize_t>(s));
    format_error(file_, field, "shape " + shape_text(dims) + ", expected " + shape_text(want) + " (0: any)");
  }
  std::vector<int64_t> sizes;
  int64_t numel = 1;
  for (auto d : dims) {
    if (d > static_cast<hsize_t>(std::numeric_limits<int32_t>::max()) ||
        numel > (int64_t{1} << 36) / std::max<int64_t>(1, static_cast<int64_t>(d)))
      format_error(file_, field, "implausible shape " + shape_text(dims));
    sizes.push_back(static_cast<int64_t>(d));
    numel *= static_cast<int64_t>(d);
  }
  auto out = torch::empty(sizes, torch::TensorOptions().dtype(dtype));
  if (numel > 0 && H5Dread(ds.get(), memory_type_of(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data_ptr()) < 0)
    format_error(file_, field, "cannot read (damaged or truncated data): " + hdf5_reason());
  return out;
}

}  // namespace qs::project::h5
