import Foundation
import ModelIO
import Testing

/// One malformed input: the command line (with `{dir}` for the test's directory), the files to
/// create first, the exit code, and a fragment the error message must contain.
struct MalformedCase: CustomTestStringConvertible, Sendable {
    let name: String
    let files: [String: Data]
    let arguments: [String]
    let status: Int32
    let message: String
    var testDescription: String { name }
}

let goodRows = npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }",
                        payload: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])

let xMember = npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", payload: [1, 2, 3, 4, 5, 6])
let yMember = npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", payload: [1, 0, 1])

let malformedCases: [MalformedCase] = [
    // Found by the fuzzer after 8.8M executions (Fuzz/Crashers/npz): a ZIP64 record whose
    // directory offset is past 2⁶³, which ZIPFoundation turned into an off_t trap (exit 132).
    .init(name: ".npz whose ZIP64 directory points past 2^63", files: ["k.npz": Data(hexString: "50504b06060000000800000021003a9a3a0ab50a14002e0630f8600fa1191c00504b01022d6eff002c0008000000210066e5fb1e4d000000a0504b0607302e6e7079504bcf000000792e6e6f79504b050600000000020002006e00000200d9d90002006600")],
          arguments: ["train", "--data", "{dir}/k.npz"], status: 1, message: "not a .npz (zip) archive: damaged"),
    .init(name: ".npz that is not a zip", files: ["z.npz": Data("PK? no".utf8)], arguments: ["train", "--data", "{dir}/z.npz"], status: 1,
          message: "not a .npz (zip) archive"),
    .init(name: ".npz without y", files: ["m.npz": (try? npzBytes(["X.npy": xMember])) ?? Data()], arguments: ["train", "--data", "{dir}/m.npz"],
          status: 1, message: "no array 'y' in the archive (it holds X.npy); expected X and y"),
    .init(name: ".npz with y of another length",
          files: ["l.npz": (try? npzBytes(["X.npy": xMember, "y.npy": npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", payload: [1, 0])])) ?? Data()],
          arguments: ["train", "--data", "{dir}/l.npz"], status: 1, message: "y has shape [2]; expected (3,) or (3, k) to match X's 3 rows"),
    .init(name: "missing file", files: [:], arguments: ["train", "--data", "{dir}/nope.npy"], status: 1, message: "nope.npy: cannot open"),
    .init(name: "directory", files: [:], arguments: ["train", "--data", "{dir}"], status: 1, message: "is a directory, not a data file"),
    .init(name: "directory named .npy", files: ["d.npy/x": Data()], arguments: ["train", "--data", "{dir}/d.npy"], status: 1, message: "not a regular file"),
    .init(name: "empty .npy", files: ["e.npy": Data()], arguments: ["train", "--data", "{dir}/e.npy"], status: 1, message: "the file is empty"),
    .init(name: "text as .npy", files: ["t.npy": Data("hello,world\n".utf8)], arguments: ["train", "--data", "{dir}/t.npy"], status: 1,
          message: "byte 0: not a .npy file"),
    .init(name: "truncated .npy header", files: ["h.npy": goodRows.prefix(40)], arguments: ["train", "--data", "{dir}/h.npy"], status: 1,
          message: "truncated header"),
    .init(name: "truncated .npy data", files: ["d.npy": goodRows.dropLast(8)], arguments: ["train", "--data", "{dir}/d.npy"], status: 1,
          message: "truncated: shape (4, 3) needs 176 bytes, the file has 168"),
    .init(name: ".npy of Python objects", files: ["o.npy": npyBytes(header: "{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }", payload: [0, 0, 0, 0])],
          arguments: ["train", "--data", "{dir}/o.npy"], status: 1, message: "holds Python objects (a pickled array: text labels or mixed columns?)"),
    .init(name: ".npy of complex numbers", files: ["i.npy": npyBytes(header: "{'descr': '<c8', 'fortran_order': False, 'shape': (2, 2), }", payload: [0, 0, 0, 0])],
          arguments: ["train", "--data", "{dir}/i.npy"], status: 1, message: "dtype <c8 is not supported"),
    .init(name: ".npy 1-D", files: ["v.npy": npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", payload: [0, 0, 0, 0])],
          arguments: ["train", "--data", "{dir}/v.npy"], status: 1, message: "expected 2-D"),
    .init(name: ".npy one column", files: ["c.npy": npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 1), }", payload: [0, 0, 0, 0])],
          arguments: ["train", "--data", "{dir}/c.npy"], status: 1, message: "it needs features and a target"),
    .init(name: ".npy no shape", files: ["s.npy": npyBytes(header: "{'descr': '<f4', 'fortran_order': False, }", payload: [])],
          arguments: ["train", "--data", "{dir}/s.npy"], status: 1, message: "no 'shape' tuple"),
    .init(name: ".npy version 9", files: ["9.npy": npyBytes(header: "{}", version: 9, payload: [])],
          arguments: ["train", "--data", "{dir}/9.npy"], status: 1, message: "unsupported .npy version 9"),
    .init(name: ".npy target out of range", files: ["g.npy": goodRows], arguments: ["train", "--data", "{dir}/g.npy", "--target", "7"],
          status: 1, message: "target column 7 is out of range"),
    .init(name: ".npy target by name", files: ["g.npy": goodRows], arguments: ["train", "--data", "{dir}/g.npy", "--target", "price"],
          status: 1, message: "--target must be a column index for .npy files"),
    .init(name: ".npy with NaN", files: ["n.npy": npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", payload: [1, 2, 3, 4, .nan, 6])],
          arguments: ["train", "--data", "{dir}/n.npy"], status: 1, message: "feature at row 1, column 1 is nan"),
    .init(name: "empty CSV", files: ["e.csv": Data()], arguments: ["train", "--data", "{dir}/e.csv", "--target", "y"], status: 1, message: "the file is empty"),
    .init(name: "CSV header only", files: ["h.csv": Data("a,b,y\n".utf8)], arguments: ["train", "--data", "{dir}/h.csv", "--target", "y"],
          status: 1, message: "a header but no rows"),
    .init(name: "ragged CSV", files: ["r.csv": Data("a,b,y\n1,2,3\n4,5\n".utf8)], arguments: ["train", "--data", "{dir}/r.csv", "--target", "y"],
          status: 1, message: "line 3: 2 field(s), the header has 3"),
    .init(name: "non-numeric CSV", files: ["x.csv": Data("a,b,y\n1,2,3\n4,five,6\n".utf8)], arguments: ["train", "--data", "{dir}/x.csv", "--target", "y"],
          status: 1, message: "line 3: column 'b': 'five' is not a number"),
    .init(name: "CSV unknown column", files: ["u.csv": Data("a,b,y\n1,2,3\n".utf8)], arguments: ["train", "--data", "{dir}/u.csv", "--target", "price"],
          status: 1, message: "no column named 'price' (the columns are a, b, y)"),
    .init(name: "CSV without --target", files: ["t.csv": Data("a,y\n1,2\n".utf8)], arguments: ["train", "--data", "{dir}/t.csv"],
          status: 2, message: "is a CSV file: say which column is the target with --target COLUMN"),
    .init(name: "CSV one column", files: ["o.csv": Data("y\n1\n".utf8)], arguments: ["train", "--data", "{dir}/o.csv", "--target", "y"],
          status: 1, message: "line 1: the header has 1 column(s)"),
    .init(name: "CSV infinity", files: ["i.csv": Data("a,y\n1,2\ninf,3\n".utf8)], arguments: ["train", "--data", "{dir}/i.csv", "--target", "y"],
          status: 1, message: "line 3: column 'a': inf is not finite"),
    .init(name: "CSV labels for logistic", files: ["l.csv": Data("a,y\n1,0\n2,2\n3,1\n".utf8)],
          arguments: ["train", "--data", "{dir}/l.csv", "--target", "y", "--model", "logistic", "--validation", "0"],
          status: 2, message: "--model logistic needs two distinct target values; the target has 3 (0, 1, 2): --model softmax fits several classes"),
    .init(name: "CSV missing value", files: ["m.csv": Data("a,b,y\n1,2,3\n4,,6\n".utf8)], arguments: ["train", "--data", "{dir}/m.csv", "--target", "y"],
          status: 1, message: "line 3: column 'b' is empty: a missing value (--skip-incomplete-rows skips such rows)"),
    .init(name: "CSV text column", files: ["t.csv": Data("a,kind,y\n1,flat,2\n".utf8)], arguments: ["train", "--data", "{dir}/t.csv", "--target", "y"],
          status: 1, message: "line 2: column 'kind': 'flat' is not a number (leave a text column out with --ignore NAME)"),
    .init(name: "--ignore without a CSV", files: [:], arguments: ["train", "--rows", "100", "--ignore", "a"], status: 2,
          message: "optim: error: --ignore, --skip-incomplete-rows, --delimiter and --sample-weight apply to --data CSV files only"),
    .init(name: "CSV with an unnamed column", files: ["p.csv": Data("a,,y\n0,1,2\n1,3,4\n".utf8)], arguments: ["train", "--data", "{dir}/p.csv", "--target", "y"],
          status: 1, message: "line 1: column 2 of 3 has no name"),
    .init(name: "CSV separated by semicolons", files: ["s.csv": Data("a;b;y\n1;2;3\n".utf8)], arguments: ["train", "--data", "{dir}/s.csv", "--target", "y"],
          status: 1, message: "(fields are separated by ','; this header has ';': use --delimiter ';')"),
    .init(name: "CSV row with an extra field", files: ["x.csv": Data("a,b,y\n1,2,3,4\n".utf8)], arguments: ["train", "--data", "{dir}/x.csv", "--target", "y"],
          status: 1, message: "line 2: 4 field(s), the header has 3"),
    .init(name: "binary data as CSV", files: ["b.csv": Data([0x50, 0x4B, 0x03, 0x04, 0xFF, 0x0A, 0x31])], arguments: ["train", "--data", "{dir}/b.csv", "--target", "y"],
          status: 1, message: "line 1: byte 3 of the header is a control character, not text"),
    .init(name: "CSV quote not closed", files: ["q.csv": Data("a,\"b,y\n1,2,3\n".utf8)], arguments: ["train", "--data", "{dir}/q.csv", "--target", "y"],
          status: 1, message: "line 1: a quote opened at byte 3 is not closed on this line"),
    .init(name: "libsvm index too large to hold dense", files: ["h.svm": Data("1 1:0.5 99999999999:0.2\n".utf8)], arguments: ["train", "--data", "{dir}/h.svm"],
          status: 1, message: "line 1: index 99999999999 is beyond the 2147483647 features sparse data can have"),
    .init(name: ".npy header not a dict", files: ["d.npy": npyBytes(header: "['descr': '<f4', 'fortran_order': False, 'shape': (2, 2), ]", payload: [0, 0, 0, 0])],
          arguments: ["train", "--data", "{dir}/d.npy"], status: 1, message: "byte 10: the header is not a Python dict literal"),
    .init(name: ".npy shape past any file", files: ["s.npy": npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", payload: [0, 0, 0, 0])],
          arguments: ["train", "--data", "{dir}/s.npy"], status: 1, message: "shape (4611686018427387904, 4) is larger than any file can be"),
    .init(name: ".npy with an infinite target", files: ["t.npy": npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", payload: [1, 2, .infinity, 4, 5, 6])],
          arguments: ["train", "--data", "{dir}/t.npy", "--validation", "0"], status: 1, message: "target at row 0, column 0 is inf"),
    .init(name: "softmax on a continuous target",
          files: ["c.npy": npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (50, 2), }",
                                    payload: (0..<50).flatMap { [Float($0), Float($0) * 0.37 + 0.5] })],
          arguments: ["train", "--data", "{dir}/c.npy", "--model", "softmax"], status: 2,
          message: "--model softmax: 50 classes for 50 rows; the target looks continuous (--model linear fits it)"),
    .init(name: "libsvm with --target", files: ["t.svm": Data("1 1:0.5\n".utf8)], arguments: ["train", "--data", "{dir}/t.svm", "--target", "0"],
          status: 1, message: "--target does not apply to libsvm files (each line's first field is its label)"),
    .init(name: "weights whose model description is impossible",
          files: ["w.safetensors": (try? safetensorsBytes(metadata: ["model": #"{"kind":"mlp","features":2,"outputs":1,"hidden":[],"loss":"mse"}"#],
                                                           tensors: ["weight": ([1, 2], [1, 2]), "bias": ([1], [0])])) ?? Data(),
                 "d.npy": npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", payload: [1, 2, 3, 4, 5, 6])],
          arguments: ["evaluate", "--weights", "{dir}/w.safetensors", "--data", "{dir}/d.npy"], status: 1,
          message: "w.safetensors: the model description is invalid: an MLP has one or two hidden layers, this one 0"),
    .init(name: "weights with a shape past any file",
          files: ["s.safetensors": (try? safetensorsBytes(metadata: ["model": #"{"kind":"linear","features":2,"outputs":1,"hidden":[],"loss":"mse"}"#],
                                                           tensors: ["weight": ([4_294_967_296, 4_294_967_296], [1, 2]), "bias": ([1], [0])])) ?? Data(),
                 "d.npy": npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", payload: [1, 2, 3, 4, 5, 6])],
          arguments: ["evaluate", "--weights", "{dir}/s.safetensors", "--data", "{dir}/d.npy"], status: 1,
          message: "tensor 'weight' of shape [4294967296, 4294967296] does not fit its byte range [4, 12]"),
    .init(name: "libsvm bad pair", files: ["b.svm": Data("1 1:0.5 2-0.3\n".utf8)], arguments: ["train", "--data", "{dir}/b.svm"],
          status: 1, message: "line 1: '2-0.3' is not index:value"),
    .init(name: "libsvm negative index", files: ["n.svm": Data("1 -1:0.5\n".utf8)], arguments: ["train", "--data", "{dir}/n.svm"],
          status: 1, message: "index -1 is negative"),
    .init(name: "libsvm indices out of order", files: ["o.svm": Data("1 1:1\n0 3:1 2:1\n".utf8)], arguments: ["train", "--data", "{dir}/o.svm"],
          status: 1, message: "line 2: indices must ascend: 2 after 3"),
    .init(name: "libsvm bad label", files: ["l.svm": Data("yes 1:1\n".utf8)], arguments: ["train", "--data", "{dir}/l.svm"],
          status: 1, message: "line 1: label 'yes' is not a number"),
    .init(name: "unknown format", files: ["d.parquet": Data("PAR1".utf8)], arguments: ["train", "--data", "{dir}/d.parquet"],
          status: 1, message: "unknown format"),
    .init(name: "corrupt checkpoint", files: ["c.ckpt": Data([0x10, 0, 0, 0, 0, 0, 0, 0] + Array("{not json".utf8))],
          arguments: ["train", "--rows", "1000", "--resume", "{dir}/c.ckpt"], status: 1, message: "byte 0: not a safetensors file: header length 16 does not fit"),
    .init(name: "checkpoint with a broken header", files: ["h.ckpt": Data([0x09, 0, 0, 0, 0, 0, 0, 0] + Array("{not json".utf8))],
          arguments: ["train", "--rows", "1000", "--resume", "{dir}/h.ckpt"], status: 1, message: "byte 8: the header is not a JSON object"),
    .init(name: "missing checkpoint", files: [:], arguments: ["train", "--rows", "1000", "--resume", "{dir}/none.ckpt"], status: 1,
          message: "none.ckpt: cannot open"),
    .init(name: "a CSV as weights", files: ["w.csv": Data("a,b\n1,2\n3,4\n".utf8), "d.csv": Data("a,b\n1,2\n".utf8)],
          arguments: ["predict", "--weights", "{dir}/w.csv", "--data", "{dir}/d.csv"], status: 1, message: "w.csv, byte 0: not a safetensors file but text"),
    .init(name: "a .pt file as weights", files: ["m.pt": Data([0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 40)), "d.csv": Data("a,b\n1,2\n".utf8)],
          arguments: ["evaluate", "--weights", "{dir}/m.pt", "--data", "{dir}/d.csv"], status: 1, message: "not a safetensors file but a zip archive (a PyTorch .pt file?"),
    .init(name: "a directory as weights", files: ["d.csv": Data("a,b\n1,2\n".utf8)],
          arguments: ["predict", "--weights", "{dir}", "--data", "{dir}/d.csv"], status: 1, message: "is a directory, not a weights file"),
    .init(name: "synthetic options with --data", files: ["d.csv": Data("a,b\n1,2\n".utf8)],
          arguments: ["train", "--data", "{dir}/d.csv", "--target", "b", "--rows", "10", "--noise", "1"], status: 2,
          message: "--rows, --noise describe(s) synthetic data; they do not apply to --data"),
    .init(name: "a misspelt column", files: ["d.csv": Data("size,rooms,price\n1,2,3\n".utf8)],
          arguments: ["train", "--data", "{dir}/d.csv", "--target", "prize"], status: 1, message: "no column named 'prize' (did you mean 'price'?"),
    .init(name: "a negative column index", files: ["d.csv": Data("a,b\n1,2\n".utf8)],
          arguments: ["train", "--data", "{dir}/d.csv", "--target", "-1"], status: 1, message: "no column named '-1'"),
    .init(name: "a truncated gzip file", files: ["t.csv.gz": Data([0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0, 0x03, 0x4B, 0x4C])],
          arguments: ["train", "--data", "{dir}/t.csv.gz", "--target", "y"], status: 1, message: "t.csv.gz, byte 12: truncated: the gzip data ends before its end marker"),
    .init(name: "both libsvm bases", files: ["d.svm": Data("1 1:2\n".utf8)],
          arguments: ["train", "--data", "{dir}/d.svm", "--zero-based", "--one-based"], status: 2, message: "--zero-based and --one-based contradict each other"),
    .init(name: "index 0 in a one-based libsvm file", files: ["d.svm": Data("1 0:2 1:1\n0 1:1\n".utf8)],
          arguments: ["train", "--data", "{dir}/d.svm", "--one-based"], status: 1, message: "d.svm, line 1: index 0 in a file read as 1-based (--one-based)"),
    .init(name: "a negative learning rate without '='", files: [:], arguments: ["train", "--rows", "1000", "--lr", "-1"], status: 2,
          message: "Invalid learning rate: -1.0"),
    .init(name: "a diverging fit says what to change", files: [:],
          arguments: ["train", "--rows", "2000", "--features", "4", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "3"], status: 1,
          message: "the loss diverged (inf) at epoch 1, minibatch 4: lower the learning rate (--lr 100000; it is 1e+06)"),
    .init(name: "rows past any file", files: [:], arguments: ["train", "--rows", "9223372036854775807"], status: 1,
          message: "9223372036854775807 rows × (64 features + 1 target(s)) is larger than any file can be"),
    .init(name: "outputs past any file", files: [:], arguments: ["train", "--rows", "10", "--outputs", "9223372036854775807"], status: 1,
          message: "is larger than any file can be"),
    .init(name: "rows past memory", files: [:], arguments: ["train", "--rows", "100000000000", "--features", "1000"], status: 1,
          message: "features needs 364.2 TiB, more than"),
    .init(name: "an MLP past memory", files: [:], arguments: ["train", "--rows", "10", "--features", "1048576", "--model", "mlp", "--hidden", "1048576"],
          status: 2, message: "the mlp model for 1048576 features has 1099513724929 parameters"),
    .init(name: "classes past memory", files: [:], arguments: ["train", "--rows", "10", "--task", "multiclass", "--outputs", "100000000"], status: 1,
          message: "a true model of 100000000 × 64 weights needs 24.2 GiB, more than"),
    .init(name: "scale on too many workers", files: [:], arguments: ["scale", "--workers", "1,100000000"], status: 2, message: "at most 4096"),
    .init(name: "compare for two billion epochs", files: [:], arguments: ["compare", "--rows", "80", "--epochs", "2147483648"], status: 2,
          message: "--epochs must be from 1 to 100,000"),
    .init(name: "topology of too many workers", files: [:], arguments: ["topology", "--workers", "100000000"], status: 2, message: "from 1 to 4096"),
    .init(name: "generate past any file", files: [:], arguments: ["generate", "--features", "9223372036854775807", "--rows", "2", "--output", "{dir}/x.npy"],
          status: 1, message: "is larger than any file can be"),
    .init(name: ".npy with a header of 100 MB", files: ["h.npy": Data([0x93] + Array("NUMPY".utf8) + [2, 0, 0x00, 0xE1, 0xF5, 0x05]) + Data(repeating: 0x20, count: 64)],
          arguments: ["train", "--data", "{dir}/h.npy"], status: 1, message: "a header of 100000000 bytes (numpy writes a few hundred)"),
    .init(name: "predict without data", files: [:], arguments: ["predict", "--weights", "{dir}/w.safetensors"], status: 2,
          message: "predict needs --data FILE"),
    .init(name: "unknown option", files: [:], arguments: ["train", "--learning-rate", "0.1"], status: 2, message: "Unknown option '--learning-rate'"),
    .init(name: "batch size 0", files: [:], arguments: ["train", "--batch-size", "0"], status: 2, message: "--batch-size must be at least 1"),
    .init(name: "no epochs", files: [:], arguments: ["train", "--epochs", "0"], status: 2, message: "--epochs must be at least 1"),
    .init(name: "option of another optimizer", files: [:], arguments: ["train", "--optimizer", "adam", "--momentum", "0.9"], status: 2,
          message: "--momentum do(es) not apply to --optimizer adam"),
    .init(name: "validation share 1.5", files: [:], arguments: ["train", "--validation", "1.5"], status: 2, message: "--validation must be in [0, 1)"),
    .init(name: "hidden without mlp", files: [:], arguments: ["train", "--hidden", "8"], status: 2, message: "--hidden applies to --model mlp only"),
    .init(name: "target without data", files: [:], arguments: ["train", "--target", "y"], status: 2, message: "--target applies to --data files only"),
    .init(name: "unknown optimizer", files: [:], arguments: ["train", "--optimizer", "adamax2"], status: 2, message: "adamax2"),
    .init(name: "negative learning rate", files: [:], arguments: ["train", "--rows", "1000", "--lr=-1"], status: 2, message: "Invalid learning rate: -1.0"),
    .init(name: "linear model with cross-entropy", files: [:], arguments: ["train", "--rows", "1000", "--loss", "cross_entropy"], status: 2,
          message: "--model linear takes a regression loss"),
    .init(name: "scale worker list", files: [:], arguments: ["scale", "--workers", "1,zero"], status: 2, message: "--workers takes positive counts"),
    .init(name: "generate to CSV", files: [:], arguments: ["generate", "--output", "{dir}/x.csv"], status: 2, message: "--output must end in .npy"),
    .init(name: "generate into a missing folder", files: [:], arguments: ["generate", "--rows", "10", "--output", "{dir}/no/such/x.npy"],
          status: 1, message: "cannot create"),
]

@Suite("optim command line")
struct CLITests {
    @Test("Every malformed input gets a clear message naming the file and place, and the right exit code", arguments: malformedCases)
    func malformed(testCase: MalformedCase) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, data) in testCase.files {
            let url = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            if name.hasSuffix("/x") { continue }
            try data.write(to: url)
        }
        let arguments = testCase.arguments.map { $0.replacingOccurrences(of: "{dir}", with: directory.path) }
        let run = try optim(arguments)
        #expect(run.status == testCase.status, "\(arguments): exit \(run.status), stderr: \(run.stderr)")
        #expect(run.stderr.contains(testCase.message), "\(arguments): stderr was \(run.stderr)")
        #expect(!run.stderr.contains("Fatal error"), "crashed")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".partial") }
        #expect(leftovers.isEmpty, "half-written files left: \(leftovers)")
    }

    @Test("train prints one line per epoch, or JSON lines with epoch_seconds")
    func trainOutput() throws {
        let text = try optim(["train", "--rows", "20000", "--features", "8", "--epochs", "3", "--batch-size", "2048", "--lr", "0.05", "--optimizer", "adam"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.split(separator: "\n").filter { $0.hasPrefix("epoch ") }.count == 3)
        #expect(text.stdout.contains("final (on the 2000 held-out rows): loss"))
        let json = try optim(["train", "--rows", "20000", "--features", "8", "--epochs", "3", "--batch-size", "2048", "--json",
                              "--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9"])
        #expect(json.status == 0, "\(json.stderr)")
        let lines = try json.stdout.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(lines.count == 5 && lines.allSatisfy { $0["event"] is String }, "only JSON on stdout, each object with its event")
        #expect(lines.first?["event"] as? String == "config" && lines.first?["optimizer"] as? String == "sgd"
                && (lines.first?["hyperparameters"] as? [String: String])?["momentum"] == "0.9")
        let objects = Array(lines.dropFirst())
        for (i, object) in objects.prefix(3).enumerated() {
            #expect(object["epoch"] as? Int == i + 1)
            #expect(object["epoch_seconds"] is Double && object["loss"] is Double && object["val_r2"] is Double)
        }
        #expect(objects[3]["event"] as? String == "done")
        #expect((objects[3]["final_r2"] as? Double ?? 0) > 0.9)
    }

    @Test("generate writes a .npy that train reads memory-mapped and learns from")
    func generateThenTrain() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("data.npy").path
        let generated = try optim(["generate", "--rows", "30000", "--features", "6", "--seed", "3", "--output", path])
        #expect(generated.status == 0, "\(generated.stderr)")
        #expect(FileManager.default.fileExists(atPath: path + ".weights.json"))
        let trained = try optim(["train", "--data", path, "--epochs", "5", "--batch-size", "1024", "--lr", "0.05", "--json"])
        #expect(trained.status == 0, "\(trained.stderr)")
        let last = try JSONSerialization.jsonObject(with: Data(trained.stdout.split(separator: "\n").last!.utf8)) as! [String: Any]
        #expect((last["final_r2"] as? Double ?? 0) > 0.95)
    }

    @Test("--dtype float64 trains in double precision: F64 weights, bitwise the same on 1, 2 and 3 workers, close to float32's; evaluate reads them")
    func float64() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let common = ["train", "--task", "logistic", "--rows", "20000", "--features", "12", "--epochs", "3", "--optimizer", "adam",
                      "--lr", "0.05", "--batch-size", "1024", "-q"]
        var saved: [[String: SafeTensors.Tensor]] = []
        for workers in ["1", "2", "3"] {
            let run = try optim(common + ["--dtype", "float64", "--workers", workers, "--save", path("w\(workers).safetensors")])
            #expect(run.status == 0, "\(run.stderr)")
            saved.append(try SafeTensors.read(path("w\(workers).safetensors")).tensors)
        }
        #expect(saved[0]["weight"]?.doubles != nil, "the weights are not F64 tensors")
        #expect(saved[1] == saved[0] && saved[2] == saved[0], "float64 weights differ between 1, 2 and 3 workers")
        let single = try optim(common + ["--save", path("f32.safetensors")])
        #expect(single.status == 0, "\(single.stderr)")
        let f32 = try SafeTensors.read(path("f32.safetensors")).tensors
        #expect(f32["weight"]?.doubles == nil)
        let a = saved[0]["weight"]!.doubles!, b = f32["weight"]!.values
        let gap = zip(a, b).map { abs($0 - Double($1)) }.max()!, size = a.map(abs).max()!
        #expect(gap <= 1e-3 * size, "float32 and float64 weights differ by \(gap) (largest weight \(size))")
        let generated = try optim(["generate", "--task", "logistic", "--rows", "2000", "--features", "12", "--seed", "9", "--output", path("d.npy")])
        #expect(generated.status == 0, "\(generated.stderr)")
        let evaluated = try optim(["evaluate", "--weights", path("w1.safetensors"), "--data", path("d.npy")])
        #expect(evaluated.status == 0 && evaluated.stdout.contains("accuracy"), "\(evaluated.stderr)")
        // A CSV read in double precision: x = 10000 + 1e-4·k, which float32 rounds to steps of
        // about 1e-3, and y = 1000·(x − 10000). Only float64 fits it to rounding.
        var csv = "x,y\n"
        for k in 0..<2000 {
            let x = 10_000 + Double(k) * 1e-4
            csv += String(format: "%.9f,%.6f\n", x, (x - 10_000) * 1000)
        }
        try Data(csv.utf8).write(to: URL(fileURLWithPath: path("fine.csv")))
        func mse(_ dtype: String) throws -> Double {
            let run = try optim(["train", "--data", path("fine.csv"), "--target", "y", "--dtype", dtype, "--json", "-q"])
            #expect(run.status == 0, "\(run.stderr)")
            let done = try JSONSerialization.jsonObject(with: Data(run.stdout.split(separator: "\n").last!.utf8)) as! [String: Any]
            return done["final_mse"] as? Double ?? .nan
        }
        let (fineSingle, fineDouble) = (try mse("float32"), try mse("float64"))
        #expect(fineDouble < 1e-6 && fineSingle > 1e-3, "the fine-grained CSV: mse \(fineSingle) in float32, \(fineDouble) in float64")
        let refused = try optim(common + ["--dtype", "float64", "--checkpoint", path("c.ckpt")])
        #expect(refused.status == 2 && refused.stderr.contains("--checkpoint is float32 only for now"), "\(refused.stderr)")
    }

    @Test(".npz archives train, stored or compressed")
    func npz() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var x: [Float] = [], y: [Float] = []
        for i in 0..<4000 {
            let a = Float(i % 97) / 50 - 1, b = Float(i % 89) / 45 - 1
            x += [a, b]
            y.append(2 * a - b + 0.5)
        }
        let members = ["X.npy": npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (4000, 2), }", payload: x),
                       "y.npy": npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (4000,), }", payload: y)]
        for compressed in [false, true] {
            let path = directory.appendingPathComponent("d\(compressed).npz").path
            try npzBytes(members, compressed: compressed).write(to: URL(fileURLWithPath: path))
            let run = try optim(["train", "--data", path, "--epochs", "20", "--batch-size", "256", "--lr", "0.05", "--json"])
            #expect(run.status == 0, "\(run.stderr)")
            let last = try JSONSerialization.jsonObject(with: Data(run.stdout.split(separator: "\n").last!.utf8)) as! [String: Any]
            #expect((last["final_r2"] as? Double ?? 0) > 0.99)
        }
    }

    @Test("scale writes its table as CSV, JSON and an SVG plot; topology shows the plan")
    func scaleAndTopology() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let prefix = directory.appendingPathComponent("scaling").path
        let run = try optim(["scale", "--rows", "50000", "--features", "8", "--workers", "1,2,3", "--repetitions", "1", "--output", prefix])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("speedup"))
        let csv = try String(contentsOfFile: prefix + ".csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 4 && csv[0].hasPrefix("workers,epoch_seconds"))
        let svg = try String(contentsOfFile: prefix + ".svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("polyline"))
        let rows = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: prefix + ".json"))) as! [[String: Any]]
        #expect(rows.map { $0["workers"] as? Int } == [1, 2, 3])
        let topology = try optim(["topology"])
        #expect(topology.status == 0 && topology.stdout.contains("plan: worker 0") && topology.stdout.contains("binding check"))
    }

    @Test("--help teaches: examples and every optimizer")
    func help() throws {
        let run = try optim(["train", "--help"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("Examples:") && run.stdout.contains("--weight-decay") && run.stdout.contains("lbfgs"))
        // On an 80-column terminal no example is wrapped mid-command: long ones continue with "\".
        for command in ["train", "predict", "evaluate", "compare", "scale", "generate", "topology"] {
            let help = try optim(["help", command], environment: ["COLUMNS": "80"])
            #expect(help.status == 0)
            let lines = help.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            guard let start = lines.firstIndex(where: { $0.hasPrefix("Example") }), let end = lines.firstIndex(where: { $0.hasPrefix("USAGE") }) else { continue }
            for line in lines[(start + 1)..<end] where !line.isEmpty {
                #expect(line.hasPrefix("  ") && line.count <= 80, "optim help \(command): a wrapped example line: '\(line)'")
            }
        }
        // Shell completions, as argument-parser writes them.
        let completion = try optim(["--generate-completion-script", "bash"])
        #expect(completion.status == 0 && completion.stdout.contains("predict") && completion.stdout.contains("--validation-data"))
    }
}

extension CLITests {
    @Test("Ctrl-C writes a checkpoint; --resume ends with bitwise the weights of an uninterrupted run; --save reads back")
    func interruptAndResume() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let common = ["train", "--rows", "400000", "--features", "8", "--epochs", "4", "--batch-size", "2048", "--lr", "0.01",
                      "--optimizer", "adamw", "--scheduler", "cosine", "-q"]
        let straight = try optim(common + ["--save", path("straight.safetensors")])
        #expect(straight.status == 0, "\(straight.stderr)")

        // Interrupt a second run part-way, as a user's Ctrl-C would.
        let process = Process()
        process.executableURL = optimBinary()
        process.arguments = common + ["--checkpoint", path("run.checkpoint"), "--save", path("resumed.safetensors")]
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        Thread.sleep(forTimeInterval: 1.5)
        process.interrupt()
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        if process.terminationStatus == 130 {
            #expect(message.contains("interrupted; resume with --resume"))
            let checkpoint = try Checkpoint.load(path("run.checkpoint")).checkpoint
            #expect(checkpoint.epoch >= 1 && checkpoint.identity["optimizer"]?.hasPrefix("adamw(") == true
                    && checkpoint.identity["optimizer"]?.contains("lr=0.01") == true, "\(checkpoint.identity)")
            let resumed = try optim(common + ["--resume", path("run.checkpoint"), "--checkpoint", path("run.checkpoint"),
                                              "--save", path("resumed.safetensors")])
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(resumed.stdout.contains("done: 4 epoch(s)"), "epochs are counted across the resume: \(resumed.stdout)")
        } else {
            // The run finished before the signal (a fast machine): nothing to resume.
            #expect(process.terminationStatus == 0)
        }
        let a = try SafeTensors.read(path("straight.safetensors")).tensors, b = try SafeTensors.read(path("resumed.safetensors")).tensors
        #expect(a == b, "the resumed run's weights differ from the uninterrupted run's")
        #expect(a["weight"]?.shape == [1, 8] && a["bias"]?.shape == [1])

        // A weights file is not a checkpoint.
        let notCheckpoint = try optim(common + ["--resume", path("straight.safetensors")])
        #expect(notCheckpoint.status == 1 && notCheckpoint.stderr.contains("not a checkpoint"))

        // Python's safetensors (the reference implementation) reads the saved weights.
        let python = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/python-tools/bin/python")
        let reader = Process()
        reader.executableURL = python
        reader.arguments = ["-c", """
            import json, sys
            from safetensors import safe_open
            from safetensors.numpy import load_file
            t = load_file(sys.argv[1])
            with safe_open(sys.argv[1], "np") as f: meta = f.metadata()
            model = json.loads(meta["model"])
            assert t["weight"].dtype.name == "float32" and t["weight"].shape == (1, 8) and t["bias"].shape == (1,), t
            assert model["kind"] == "linear" and model["features"] == 8, model
            print(repr(float(t["weight"][0, 0])), repr(float(t["bias"][0])))
            """, path("straight.safetensors")]
        let output = Pipe()
        reader.standardOutput = output
        try reader.run()
        reader.waitUntilExit()
        #expect(reader.terminationStatus == 0, "Python's safetensors could not read the weights (run bash tools/setup.sh --tests)")
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: " ")
        #expect(printed.count == 2 && Float(printed[0]) == a["weight"]?.values[0]
                && Float(printed[1].trimmingCharacters(in: .whitespacesAndNewlines)) == a["bias"]?.values[0])

        let mismatch = try optim(common + ["--lr", "0.02", "--resume", path("run.checkpoint")])
        #expect(mismatch.status == 2 && mismatch.stderr.contains("is from another run"))
        let evaluated = try optim(["evaluate", "--weights", path("straight.safetensors"), "--rows", "5000", "--features", "8", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as! [String: Any]
        #expect((object["r2"] as? Double ?? 0) > 0.9)
    }
}

extension CLITests {
    @Test("A run that stopped early resumes to the same end: its checkpoint keeps early stopping's state; another patience is another run")
    func earlyStoppingCheckpoint() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let common = ["train", "--rows", "20000", "--features", "4", "--epochs", "200", "--early-stopping", "2", "--lr", "0.05", "-q"]
        let straight = try optim(common + ["--checkpoint", path("run.checkpoint"), "--save", path("straight.safetensors"), "--json"])
        #expect(straight.status == 0, "\(straight.stderr)")
        #expect(straight.stdout.contains("\"stop_reason\":\"early_stopped\""), "\(straight.stdout)")
        let saved = try Checkpoint.load(path("run.checkpoint")).checkpoint
        #expect(saved.earlyStoppingState != nil && saved.identity["early_stopping"] == "patience 2")

        let resumed = try optim(common + ["--resume", path("run.checkpoint"), "--save", path("resumed.safetensors")])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let a = try SafeTensors.read(path("straight.safetensors")).tensors, b = try SafeTensors.read(path("resumed.safetensors")).tensors
        #expect(a == b, "the resumed run's weights differ from the early-stopped run's best weights")

        let other = try optim(common.map { $0 == "2" ? "3" : $0 } + ["--resume", path("run.checkpoint")])
        #expect(other.status == 2 && other.stderr.contains("its early_stopping is 'patience 2'"), "\(other.stderr)")
    }
}

extension CLITests {
    @Test("compare --dataset seed prints the seed's numbers, as PyTorch does, then the comparison table and plot")
    func compareSeed() throws {
        let reference = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("OptimTests/Reference/seed_example_torch_output.txt")
        let expected = try String(contentsOf: reference, encoding: .utf8)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let prefix = directory.appendingPathComponent("seed").path
        let run = try optim(["compare", "--dataset", "seed", "--output", prefix])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.hasPrefix(expected), "the seed's printout differs:\n\(run.stdout)")
        #expect(run.stdout.contains("Adam(lr=0.001)") && run.stdout.contains("never"), "Adam at lr 0.001 never reaches the others' loss")
        let svg = try String(contentsOfFile: prefix + ".svg", encoding: .utf8)
        #expect(svg.components(separatedBy: "<polyline").count == 6, "one curve per optimizer")
        let csv = try String(contentsOfFile: prefix + ".csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 1 + 4 * 100 + 5)
    }

    @Test("compare runs several optimizers on the same synthetic data")
    func compareSynthetic() throws {
        let run = try optim(["compare", "--rows", "20000", "--features", "6", "--epochs", "3", "--batch-size", "2048",
                             "--optimizers", "sgd,adam,lbfgs", "--lr", "0.05"])
        #expect(run.status == 0, "\(run.stderr)")
        for name in ["sgd(lr=0.05)", "adam(lr=0.05)", "lbfgs(lr=0.05)"] { #expect(run.stdout.contains(name)) }
        let bad = try optim(["compare", "--optimizers", "sgd,adamm"])
        #expect(bad.status == 2 && bad.stderr.contains("unknown optimizer 'adamm'"))
    }

    @Test("compare: each optimizer's own options, a diverging run kept and marked, validation curves, a plot that reads (whole-number epoch ticks, decades, the data in the title)")
    func compareOptionsAndPlot() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let prefix = directory.appendingPathComponent("curves").path
        let run = try optim(["compare", "--rows", "20000", "--features", "6", "--epochs", "6", "--batch-size", "2048", "--output", prefix,
                             "--optimizers", "sgd(lr=0.05,momentum=0.9,nesterov),adam(lr=0.01,betas=0.8;0.99),sgd(lr=50)"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("sgd(lr=0.05, momentum=0.9, nesterov)") && run.stdout.contains("adam(betas=(0.8, 0.99), lr=0.01)"), "\(run.stdout)")
        #expect(run.stdout.split(separator: "\n").contains { $0.hasPrefix("sgd(lr=50.0)") && $0.hasSuffix("diverged") }, "\(run.stdout)")
        let svg = try String(contentsOfFile: prefix + ".svg", encoding: .utf8)
        #expect(svg.contains("synthetic linear regression") && svg.contains("linear regression, 6 → 1"), "the data and the model in the title")
        #expect(svg.contains("class=\"diverged\"") && svg.contains("sgd(lr=50.0) (diverged)"))
        #expect(svg.components(separatedBy: "stroke-dasharray=\"6 4\"").count - 1 >= 3, "a dashed validation curve per optimizer")
        // The x ticks are whole epochs; the y ticks on the log axis are decades.
        let labels = svg.components(separatedBy: "text-anchor=\"middle\">").dropFirst().map { $0.prefix { $0 != "<" } }.filter { $0 != "epochs" }
        #expect(!labels.isEmpty && labels.allSatisfy { Int($0) != nil }, "x tick labels \(labels)")
        let yLabels = svg.components(separatedBy: "text-anchor=\"end\">").dropFirst().map { String($0.prefix { $0 != "<" }) }
        #expect(!yLabels.isEmpty && yLabels.allSatisfy { ["0.001", "0.01", "0.1", "1", "10", "100"].contains($0) || $0.hasPrefix("1e") }, "y tick labels \(yLabels)")
        let csv = try String(contentsOfFile: prefix + ".csv", encoding: .utf8)
        #expect(csv.hasPrefix("optimizer,epoch,loss,validation_loss\n"))
        let unbalanced = try optim(["compare", "--optimizers", "sgd(lr=0.1"])
        #expect(unbalanced.status == 2 && unbalanced.stderr.contains("no closing parenthesis"))
    }

    @Test("--swa-start and --ema-decay save averaged weights: SWA of the last epoch alone, or an EMA of decay 0, is bitwise the plain run; SWA of all epochs is not")
    func averagedWeights() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func train(_ extra: [String], _ name: String) throws -> (Run, [String: SafeTensors.Tensor]) {
            let path = directory.appendingPathComponent(name).path
            let run = try optim(["train", "--rows", "4000", "--features", "6", "--model", "mlp", "--hidden", "8", "--epochs", "3", "--save", path] + extra)
            #expect(run.status == 0, "\(extra): \(run.stderr)")
            return (run, try SafeTensors.read(path).tensors)
        }
        let (_, plain) = try train([], "plain.safetensors")
        let (lastOnly, swaLast) = try train(["--swa-start", "3"], "swa3.safetensors")
        let (_, emaZero) = try train(["--ema-decay", "0"], "ema0.safetensors")
        let (all, swaAll) = try train(["--swa-start", "1"], "swa1.safetensors")
        #expect(swaLast == plain && emaZero == plain)
        #expect(swaAll != plain)
        #expect(lastOnly.stdout.contains("averaged weights (SWA of 1 epoch(s) from epoch 3)"), "\(lastOnly.stdout)")
        #expect(all.stdout.contains("averaged weights (SWA of 3 epoch(s) from epoch 1): validation loss"), "\(all.stdout)")
        let late = try optim(["train", "--rows", "4000", "--features", "6", "--epochs", "3", "--optimizer", "adam", "--swa-start", "5"])
        #expect(late.status == 0 && late.stderr.contains("before averaging began"), "\(late.stderr)")
        let both = try optim(["train", "--swa-start", "2", "--ema-decay", "0.9"])
        #expect(both.status == 2 && both.stderr.contains("give one"))
    }
}

extension Data {
    /// Bytes from hexadecimal text ("504b0506...").
    init(hexString: String) {
        var bytes: [UInt8] = []
        var index = hexString.startIndex
        while index < hexString.endIndex, let next = hexString.index(index, offsetBy: 2, limitedBy: hexString.endIndex) {
            bytes.append(UInt8(hexString[index..<next], radix: 16) ?? 0)
            index = next
        }
        self.init(bytes)
    }
}
