/**
 * mindzoo ascend310_infer: command line, dataset listing, eval preprocessing and result files.
 *
 * Everything here is backend-independent and built with the default libstdc++ ABI; the backends
 * (inc/backend.h) exchange only plain types with it, so a backend may be compiled with a different
 * _GLIBCXX_USE_CXX11_ABI (MindSpore's inference packages use the old one).
 */
#ifndef MINDZOO_ASCEND310_INFER_INC_UTILS_H_
#define MINDZOO_ASCEND310_INFER_INC_UTILS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mindzoo {

/** Command-line options of the harness (see PrintUsage()). */
struct Options {
  std::string model_path;
  std::string dataset_path;
  std::string device_type = "CPU";  // CPU | Ascend310 | Ascend310P
  int device_id = 0;
  // Required, no defaults: a wrong size would silently cost accuracy. run_infer_310.sh passes the export's
  // NAME.json preprocess.resize_size / crop_size.
  int resize = 0;  // shorter side before the centre crop: int(crop / crop_pct)
  int crop = 0;    // centre crop = network input size
  std::string output_dir = ".";  // result_Files/ and time_Result/ are created here
  std::string dump_input_dir;    // debug: write each preprocessed CHW float32 tensor here
  int max_images = 0;            // 0: all
  int threads = 0;               // backend CPU threads, 0: backend default
  int warmup = 0;                // untimed Predict calls on the first image before the timed loop
  // ImageNet mean/std on the 0-255 scale, RGB order (eval.py's Normalize).
  std::vector<float> mean = {123.675f, 116.28f, 103.53f};
  std::vector<float> std = {58.395f, 57.12f, 57.375f};
  bool help = false;
};

/** Parses --flag=value and --flag value. Returns false and sets *error on bad input. */
bool ParseArgs(int argc, char **argv, Options *options, std::string *error);
void PrintUsage(const char *program);

/** One image of the dataset and the name its result is written under. */
struct ImageItem {
  std::string path;        // full path of the image file
  std::string rel_path;    // "<class>/<file>" (or "<file>" for a flat folder)
  std::string class_name;  // "" for a flat folder
  int label = -1;          // index of the class folder in sorted order, -1 for a flat folder
  std::string key;         // result name stem: result_Files/<key>_0.bin
};

/**
 * Lists an ImageNet-layout split dir (class subfolders, sorted by name = label order; files sorted by
 * name) or a flat folder of images. Only files with an image extension (.jpeg .jpg .png .bmp, any case)
 * are taken; hidden entries (".name") are skipped. key = file name without its last extension; if two
 * images share that stem (in two class folders, or a.JPEG next to a.png), each of them is keyed
 * "<class>@<file name>" instead ("<file name>" in a flat folder). mindzoo.deploy.harness_files (used by
 * create_imagenet2012_label.py) applies the same rules, so the label file maps every result.
 */
bool ListDataset(const std::string &dataset_path, std::vector<ImageItem> *items, std::string *error);

/** Output size of MindSpore's vision.Resize(int) for an (h, w) image: shorter side -> size. */
void ResizeShape(int height, int width, int size, int *out_height, int *out_width);

/** Top/left offset (crop <= dim) or leading pad (crop > dim) of MindSpore's vision.CenterCrop. */
int CenterCropOffset(int dim, int crop);

/**
 * eval.py's preprocessing: decode (OpenCV, EXIF orientation ignored as in MindSpore's Decode),
 * Resize(resize) bilinear, CenterCrop(crop), BGR->RGB, (x - mean) / std, HWC->CHW float32.
 * *chw gets 3 * crop * crop floats.
 */
bool Preprocess(const std::string &image_path, const Options &options, std::vector<float> *chw, std::string *error);

bool MakeDirs(const std::string &path, std::string *error);
bool WriteBinary(const std::string &path, const void *data, size_t size, std::string *error);
/** Removes stale "*.bin" and meta.json from a result_Files dir (only those). */
void RemoveStaleResults(const std::string &result_dir);
std::string JsonEscape(const std::string &text);
std::string JoinPath(const std::string &a, const std::string &b);
bool FileExists(const std::string &path);
bool IsDirectory(const std::string &path);
double Median(std::vector<double> values);

}  // namespace mindzoo

#endif  // MINDZOO_ASCEND310_INFER_INC_UTILS_H_
