// Replays every file of a fuzz corpus through LLVMFuzzerTestOneInput, so that GCC builds
// run the corpus in ctest (label "fuzz") without libFuzzer. A corpus path that does not exist,
// a file that cannot be read, or a directory without inputs is a failure: a replay that reads
// nothing must not pass.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  std::size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    std::vector<std::filesystem::path> files;
    std::filesystem::path root(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(root, ec)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
        if (entry.is_regular_file()) {
          files.push_back(entry.path());
        }
      }
      if (files.empty()) {
        std::fprintf(stderr, "replay: corpus directory %s holds no input\n", argv[i]);
        return 1;
      }
    } else if (std::filesystem::is_regular_file(root, ec)) {
      files.push_back(root);
    } else {
      std::fprintf(stderr, "replay: corpus path %s does not exist\n", argv[i]);
      return 1;
    }
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "replay: cannot read %s\n", file.c_str());
        return 1;
      }
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++count;
    }
  }
  std::printf("replayed %zu inputs\n", count);
  return count > 0 ? 0 : 1;
}
