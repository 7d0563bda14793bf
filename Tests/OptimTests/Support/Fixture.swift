import Foundation
import Optim

/// A JSON value of a fixture's hyperparameters or scheduler arguments.
enum JSONValue: Codable, Equatable {
    case number(Double), bool(Bool), string(String), array([JSONValue]), object([String: JSONValue]), null

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let x = try? c.decode(Double.self) { self = .number(x) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let x): try c.encode(x)
        case .bool(let b): try c.encode(b)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        case .null: try c.encodeNil()
        }
    }

    var number: Double? { if case .number(let x) = self { x } else { nil } }
    var int: Int? { number.map { Int($0) } }
    var numbers: [Double]? {
        if case .array(let a) = self { return a.compactMap(\.number) }
        return number.map { [$0] }
    }
}

/// One PyTorch reference trajectory (see `Fixtures/README.md`).
struct Fixture: Decodable {
    struct SchedulerSpec: Decodable {
        let name: String
        let arguments: [String: JSONValue]
    }

    let problem: String
    let optimizer: String
    let hyperparameters: [String: JSONValue]
    let dtype: String
    let initial: [Double]
    let steps: Int
    let losses: [Double]
    let params: [[Double]]
    let lr_used: [Double]
    let closure_evaluations: [Int]?
    let scheduler: SchedulerSpec?
    /// The shapes of the parameter tensors, when there are several (the flat values cut in
    /// order); absent: one vector.
    let shapes: [[Int]]?
    /// torch.optim.swa_utils: {"kind": "swa"} or {"kind": "ema", "decay": d}, and "start", the
    /// first step whose parameters are averaged; `averaged` holds the average after each step.
    let averaging: [String: JSONValue]?
    let averaged: [[Double]]?

    static var directory: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    }

    static func all() throws -> [(name: String, fixture: Fixture)] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".json") }.sorted()
        return try files.map { ($0, try load($0)) }
    }

    static func load(_ file: String) throws -> Fixture {
        let data = try Data(contentsOf: directory.appendingPathComponent(file))
        return try JSONDecoder().decode(Fixture.self, from: data)
    }
}
