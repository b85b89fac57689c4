/**
 * mindzoo ascend310_infer: command line, dataset listing, eval preprocessing and result files.
 */
#include "utils.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#ifdef MINDZOO_WITH_LIBJPEG
#include <csetjmp>
#include <jpeglib.h>
#endif

namespace fs = std::filesystem;

namespace mindzoo {

namespace {

bool ParseInt(const std::string &name, const std::string &text, int minimum, int *value, std::string *error) {
  char *end = nullptr;
  errno = 0;
  long parsed = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || end == nullptr || *end != '\0' || errno != 0 || parsed < minimum || parsed > 1 << 24) {
    *error = "--" + name + " must be an integer >= " + std::to_string(minimum) + ", got '" + text + "'";
    return false;
  }
  *value = static_cast<int>(parsed);
  return true;
}

bool ParseFloatList(const std::string &name, const std::string &text, std::vector<float> *values,
                    std::string *error) {
  std::vector<float> parsed;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    char *end = nullptr;
    float value = std::strtof(item.c_str(), &end);
    if (item.empty() || end == nullptr || *end != '\0') {
      *error = "--" + name + " must be three comma-separated numbers, got '" + text + "'";
      return false;
    }
    parsed.push_back(value);
  }
  if (parsed.size() != 3) {
    *error = "--" + name + " must be three comma-separated numbers, got '" + text + "'";
    return false;
  }
  *values = parsed;
  return true;
}

std::string ToLower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

bool IsImageFile(const fs::path &path) {
  static const std::set<std::string> kExtensions = {".jpeg", ".jpg", ".png", ".bmp"};
  return kExtensions.count(ToLower(path.extension().string())) > 0;
}

bool IsHidden(const fs::path &path) { return !path.filename().empty() && path.filename().string()[0] == '.'; }

// Sorted names of the visible entries of dir that are directories (want_dirs) or image files.
bool SortedEntries(const fs::path &dir, bool want_dirs, std::vector<std::string> *names, std::string *error) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    *error = "cannot read directory " + dir.string() + ": " + ec.message();
    return false;
  }
  for (const auto &entry : it) {
    if (IsHidden(entry.path())) continue;
    bool is_dir = entry.is_directory(ec);
    if (want_dirs ? is_dir : (!is_dir && IsImageFile(entry.path()))) names->push_back(entry.path().filename().string());
  }
  std::sort(names->begin(), names->end());  // byte order == Python's sorted() for UTF-8 names
  return true;
}

#ifdef MINDZOO_WITH_LIBJPEG
struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
};

void JpegErrorExit(j_common_ptr cinfo) { std::longjmp(reinterpret_cast<JpegError *>(cinfo->err)->jump, 1); }

// MindSpore's Decode turns a 4-component (CMYK/YCCK) JPEG into RGB with its own formula, which OpenCV's
// decoder does not share (up to 2 grey levels apart). Returns true with *bgr set for such a JPEG, false
// (leaving the decode to OpenCV) for any other file. Must not hold C++ objects with destructors: longjmp.
bool DecodeCmykJpegLikeMindSpore(const std::vector<uchar> &bytes, cv::Mat *bgr) {
  if (bytes.size() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 || bytes[2] != 0xFF) return false;
  jpeg_decompress_struct cinfo;
  JpegError error;
  cinfo.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = JpegErrorExit;
  unsigned char *volatile scanline = nullptr;  // volatile: read after a longjmp
  if (setjmp(error.jump)) {
    std::free(scanline);
    jpeg_destroy_decompress(&cinfo);
    return false;  // let OpenCV try (and report) it
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.num_components != 4) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  cinfo.out_color_space = JCS_CMYK;
  jpeg_start_decompress(&cinfo);
  const int width = static_cast<int>(cinfo.output_width);
  const int height = static_cast<int>(cinfo.output_height);
  bgr->create(height, width, CV_8UC3);
  scanline = static_cast<unsigned char *>(std::malloc(static_cast<size_t>(width) * 4));
  while (scanline != nullptr && cinfo.output_scanline < cinfo.output_height) {
    uchar *out = bgr->ptr<uchar>(static_cast<int>(cinfo.output_scanline));
    JSAMPROW row = scanline;
    if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) break;
    for (int x = 0; x < width; ++x) {
      const int c = scanline[4 * x], m = scanline[4 * x + 1], y = scanline[4 * x + 2], k = scanline[4 * x + 3];
      int r, g, b;
      if (cinfo.saw_Adobe_marker) {  // Adobe writes inverted CMYK
        r = k * c / 255;
        g = k * m / 255;
        b = k * y / 255;
      } else {
        r = (255 - c) * (255 - k) / 255;
        g = (255 - m) * (255 - k) / 255;
        b = (255 - y) * (255 - k) / 255;
      }
      out[3 * x] = static_cast<uchar>(b);
      out[3 * x + 1] = static_cast<uchar>(g);
      out[3 * x + 2] = static_cast<uchar>(r);
    }
  }
  const bool complete = scanline != nullptr && cinfo.output_scanline == cinfo.output_height;
  std::free(scanline);
  scanline = nullptr;
  if (complete) jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return complete;
}
#endif

}  // namespace

void PrintUsage(const char *program) {
  std::cout
    << "Usage: " << program << " --model_path MODEL --dataset_path DIR [options]\n"
    << "Batch-1 inference over an ImageNet-layout folder with eval.py's preprocessing.\n\n"
    << "  --model_path PATH     model file (.onnx for onnxruntime, .mindir for mindspore / mindspore_python)\n"
    << "                        (--mindir_path is accepted as an alias)\n"
    << "  --dataset_path DIR    split dir with class subfolders (e.g. DATA/val), or a flat image folder\n"
    << "  --device_type TYPE    CPU | Ascend310 | Ascend310P (default CPU)\n"
    << "  --device_id N         device id (default 0)\n"
    << "  --resize N            shorter side before the crop, int(crop / crop_pct) (required; export.py's\n"
    << "                        NAME.json preprocess.resize_size, e.g. 256 for a 224 crop, 438 for 384)\n"
    << "  --crop N              centre crop = network input size (required; NAME.json preprocess.crop_size)\n"
    << "  --output_dir DIR      where result_Files/ and time_Result/ go (default .)\n"
    << "  --mean R,G,B          normalisation mean, 0-255 scale (default 123.675,116.28,103.53)\n"
    << "  --std R,G,B           normalisation std, 0-255 scale (default 58.395,57.12,57.375)\n"
    << "  --threads N           CPU threads for the backend, 0 = its default (default 0)\n"
    << "  --max_images N        stop after N images, 0 = all (default 0)\n"
    << "  --warmup N            untimed Predict calls on the first image before the timed loop, outputs\n"
    << "                        discarded, to keep cold first calls out of the latency (default 0)\n"
    << "  --dump_input DIR      debug: also write each preprocessed CHW float32 tensor to DIR/<key>.bin\n"
    << "  --help                this text\n\n"
    << "Writes result_Files/<key>_0.bin (raw logits, dtype and shape in result_Files/meta.json) and\n"
    << "time_Result/test_perform_static.txt (mean and median latency of the timed Predict calls, one per\n"
    << "image, and the warmup count).\n";
}

bool ParseArgs(int argc, char **argv, Options *options, std::string *error) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      options->help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      *error = "unexpected argument '" + arg + "' (flags look like --name=value)";
      return false;
    }
    std::string name = arg.substr(2);
    std::string value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else {
      if (i + 1 >= argc) {
        *error = "--" + name + " needs a value";
        return false;
      }
      value = argv[++i];
    }
    bool ok = true;
    if (name == "model_path" || name == "mindir_path") {
      options->model_path = value;
    } else if (name == "dataset_path") {
      options->dataset_path = value;
    } else if (name == "device_type") {
      if (value == "Ascend") value = "Ascend310";
      if (value != "CPU" && value != "Ascend310" && value != "Ascend310P") {
        *error = "--device_type must be CPU, Ascend310 or Ascend310P, got '" + value + "'";
        return false;
      }
      options->device_type = value;
    } else if (name == "device_id") {
      ok = ParseInt(name, value, 0, &options->device_id, error);
    } else if (name == "resize") {
      ok = ParseInt(name, value, 1, &options->resize, error);
    } else if (name == "crop") {
      ok = ParseInt(name, value, 1, &options->crop, error);
    } else if (name == "output_dir") {
      options->output_dir = value;
    } else if (name == "dump_input") {
      options->dump_input_dir = value;
    } else if (name == "max_images") {
      ok = ParseInt(name, value, 0, &options->max_images, error);
    } else if (name == "threads") {
      ok = ParseInt(name, value, 0, &options->threads, error);
    } else if (name == "warmup") {
      ok = ParseInt(name, value, 0, &options->warmup, error);
    } else if (name == "mean") {
      ok = ParseFloatList(name, value, &options->mean, error);
    } else if (name == "std") {
      ok = ParseFloatList(name, value, &options->std, error);
      for (float s : options->std) {
        if (ok && !(s > 0.0f)) {
          *error = "--std values must be > 0";
          ok = false;
        }
      }
    } else {
      *error = "unknown flag --" + name + " (see --help)";
      return false;
    }
    if (!ok) return false;
  }
  if (options->help) return true;
  if (options->model_path.empty()) {
    *error = "--model_path is required";
    return false;
  }
  if (options->dataset_path.empty()) {
    *error = "--dataset_path is required";
    return false;
  }
  if (options->resize == 0 || options->crop == 0) {
    *error = std::string(options->crop == 0 ? "--crop" : "--resize") +
             " is required: pass the export's sizes (NAME.json preprocess.crop_size and resize_size; "
             "run_infer_310.sh reads them)";
    return false;
  }
  return true;
}

bool ListDataset(const std::string &dataset_path, std::vector<ImageItem> *items, std::string *error) {
  fs::path root(dataset_path);
  if (!IsDirectory(dataset_path)) {
    *error = "dataset path is not a directory: " + dataset_path;
    return false;
  }
  std::vector<std::string> classes;
  if (!SortedEntries(root, true, &classes, error)) return false;
  std::vector<ImageItem> listed;
  if (classes.empty()) {  // flat folder of images: no labels
    std::vector<std::string> files;
    if (!SortedEntries(root, false, &files, error)) return false;
    for (const auto &file : files) {
      ImageItem item;
      item.path = (root / file).string();
      item.rel_path = file;
      item.key = fs::path(file).stem().string();
      listed.push_back(item);
    }
  } else {
    for (size_t label = 0; label < classes.size(); ++label) {
      std::vector<std::string> files;
      if (!SortedEntries(root / classes[label], false, &files, error)) return false;
      for (const auto &file : files) {
        ImageItem item;
        item.path = (root / classes[label] / file).string();
        item.rel_path = classes[label] + "/" + file;
        item.class_name = classes[label];
        item.label = static_cast<int>(label);
        item.key = fs::path(file).stem().string();
        listed.push_back(item);
      }
    }
  }
  // A stem shared by two images (two class folders, or a.JPEG + a.png) would overwrite a result: those
  // images are keyed "<class>@<file name>" instead ("<file name>" in a flat folder), which is unique.
  std::map<std::string, int> stem_count;
  for (const auto &item : listed) ++stem_count[item.key];
  for (auto &item : listed) {
    if (stem_count[item.key] > 1) {
      const std::string file = fs::path(item.rel_path).filename().string();
      item.key = item.class_name.empty() ? file : item.class_name + "@" + file;
    }
  }
  if (listed.empty()) {
    *error = "no images (.jpeg .jpg .png .bmp) found in " + dataset_path;
    return false;
  }
  *items = std::move(listed);
  return true;
}

void ResizeShape(int height, int width, int size, int *out_height, int *out_width) {
  // MindSpore 2.10 vision.Resize(int): the shorter side becomes size, the other is
  // int(float32(longer) / shorter * size), truncated (checked against mindspore.dataset.vision.Resize).
  if (height < width) {
    *out_height = size;
    *out_width = static_cast<int>(static_cast<float>(width) / height * size);
  } else {
    *out_width = size;
    *out_height = static_cast<int>(static_cast<float>(height) / width * size);
  }
}

int CenterCropOffset(int dim, int crop) {
  // MindSpore vision.CenterCrop: offset floor((dim - crop) / 2); a crop larger than the image pads with
  // zeros, ceil((crop - dim) / 2) before the image (checked against mindspore.dataset.vision.CenterCrop).
  if (crop <= dim) return (dim - crop) / 2;
  int pad = crop - dim;
  return pad - pad / 2;
}

bool Preprocess(const std::string &image_path, const Options &options, std::vector<float> *chw, std::string *error) {
  std::ifstream file(image_path, std::ios::binary);
  if (!file) {
    *error = "cannot open " + image_path;
    return false;
  }
  std::vector<uchar> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  // MindSpore's Decode: libjpeg to RGB for JPEGs (what OpenCV's JPEG codec does too, bit for bit), its own
  // CMYK conversion for 4-component JPEGs, cv::imdecode for other formats; EXIF orientation is ignored.
  cv::Mat image;
#ifdef MINDZOO_WITH_LIBJPEG
  const bool decoded = DecodeCmykJpegLikeMindSpore(bytes, &image);
#else
  const bool decoded = false;
#endif
  if (!decoded) {
    try {
      image = cv::imdecode(bytes, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
    } catch (const cv::Exception &e) {
      *error = "cannot decode " + image_path + ": " + e.what();
      return false;
    }
  }
  if (image.empty() || image.channels() != 3) {
    *error = "cannot decode " + image_path + " as an image";
    return false;
  }
  int out_h = 0;
  int out_w = 0;
  ResizeShape(image.rows, image.cols, options.resize, &out_h, &out_w);
  if (out_h < 1 || out_w < 1) {
    *error = "image " + image_path + " is too thin to resize";
    return false;
  }
  cv::Mat resized;
  cv::resize(image, resized, cv::Size(out_w, out_h), 0, 0, cv::INTER_LINEAR);

  const int crop = options.crop;
  cv::Mat cropped = cv::Mat::zeros(crop, crop, CV_8UC3);
  // Source and destination windows per axis: crop (offset into the image) or zero-pad (offset into crop).
  int src_y = 0, dst_y = 0, len_y = crop;
  int src_x = 0, dst_x = 0, len_x = crop;
  if (crop <= out_h) {
    src_y = CenterCropOffset(out_h, crop);
  } else {
    dst_y = CenterCropOffset(out_h, crop);
    len_y = out_h;
  }
  if (crop <= out_w) {
    src_x = CenterCropOffset(out_w, crop);
  } else {
    dst_x = CenterCropOffset(out_w, crop);
    len_x = out_w;
  }
  resized(cv::Rect(src_x, src_y, len_x, len_y)).copyTo(cropped(cv::Rect(dst_x, dst_y, len_x, len_y)));

  const size_t plane = static_cast<size_t>(crop) * crop;
  chw->assign(3 * plane, 0.0f);
  float *out = chw->data();
  for (int y = 0; y < crop; ++y) {
    const uchar *row = cropped.ptr<uchar>(y);
    for (int x = 0; x < crop; ++x) {
      const size_t index = static_cast<size_t>(y) * crop + x;
      for (int c = 0; c < 3; ++c) {  // OpenCV is BGR, the network takes RGB
        const float value = static_cast<float>(row[3 * x + (2 - c)]);
        out[c * plane + index] = (value - options.mean[c]) / options.std[c];
      }
    }
  }
  return true;
}

bool MakeDirs(const std::string &path, std::string *error) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec || !IsDirectory(path)) {
    *error = "cannot create directory " + path + (ec ? ": " + ec.message() : "");
    return false;
  }
  return true;
}

bool WriteBinary(const std::string &path, const void *data, size_t size, std::string *error) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    *error = "cannot write " + path;
    return false;
  }
  out.write(static_cast<const char *>(data), static_cast<std::streamsize>(size));
  if (!out) {
    *error = "failed writing " + path;
    return false;
  }
  return true;
}

void RemoveStaleResults(const std::string &result_dir) {
  std::error_code ec;
  fs::directory_iterator it(result_dir, ec);
  if (ec) return;
  std::vector<fs::path> stale;
  for (const auto &entry : it) {
    const fs::path &p = entry.path();
    if (p.extension() == ".bin" || p.filename() == "meta.json") stale.push_back(p);
  }
  for (const auto &p : stale) fs::remove(p, ec);
}

std::string JsonEscape(const std::string &text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string JoinPath(const std::string &a, const std::string &b) { return (fs::path(a) / b).string(); }

bool FileExists(const std::string &path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

bool IsDirectory(const std::string &path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

}  // namespace mindzoo
