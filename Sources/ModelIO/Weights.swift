import Datasets
import VectorMath
import Foundation
import Models
import Optim

extension JSONEncoder {
    /// An encoder with sorted keys: the same values give the same bytes in every process (a
    /// dictionary's order is not), so that two identical runs write identical files.
    public static var canonical: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }
}

/// A model's weights in a safetensors file: one tensor per parameter tensor (torch's names and
/// shapes: `weight`, `bias`, `0.weight`, ...), the model description and free-form notes as
/// metadata.
public enum Weights {
    /// Saves `parameters` of `model`, atomically: F32 tensors for Float parameters, F64 for Double.
    public static func save<Scalar: TrainingScalar>(_ model: any Model, _ parameters: Parameters<Scalar>, notes: [String: String] = [:],
                                                    to path: String) throws {
        guard let description = ModelDescription(model) else { throw DataFileError(path, nil, "cannot describe \(model.description)") }
        let tensors = parameters.tensors.enumerated().map { index, tensor in
            let values = parameters.value(at: index)
            return (name: tensor.name, tensor: values as? [Float] != nil
                ? SafeTensors.Tensor(shape: tensor.shape, values: values as! [Float])
                : SafeTensors.Tensor(shape: tensor.shape, doubles: Scalar.widened(values)))
        }
        var metadata = notes
        metadata["format"] = "swift-optim weights"
        metadata["model"] = String(decoding: try JSONEncoder.canonical.encode(description), as: UTF8.self)
        try SafeTensors.write(tensors, metadata: metadata, to: path)
    }

    /// Loads a weights file: the model it describes and its parameters.
    public static func load(_ path: String) throws -> (model: any Model, parameters: Parameters<Float>, metadata: [String: String]) {
        try load(path, as: Float.self)
    }

    /// ``load(_:)`` in `Float` or `Double`: F64 tensors are exact in Double and rounded in Float,
    /// F32 ones exact in both.
    public static func load<Scalar: TrainingScalar>(_ path: String, as _: Scalar.Type) throws
        -> (model: any Model, parameters: Parameters<Scalar>, metadata: [String: String])
    {
        let (tensors, metadata) = try SafeTensors.read(path)
        let (model, parameters) = try model(from: tensors, metadata: metadata, path: path, as: Scalar.self)
        return (model, parameters, metadata)
    }

    /// The precision of a weights file's tensors: "float64" when any is F64, else "float32".
    public static func dtype(of tensors: [String: SafeTensors.Tensor]) -> String {
        tensors.values.contains { $0.doubles != nil } ? Double.dtypeName : Float.dtypeName
    }

    /// The model a file's metadata describes and its parameters from the file's tensors, each
    /// checked against the model's shapes before anything is allocated.
    static func model<Scalar: TrainingScalar>(from tensors: [String: SafeTensors.Tensor], metadata: [String: String], path: String,
                                              as _: Scalar.Type = Float.self) throws
        -> (model: any Model, parameters: Parameters<Scalar>)
    {
        guard let json = metadata["model"], let description = try? JSONDecoder().decode(ModelDescription.self, from: Data(json.utf8)) else {
            throw DataFileError(path, nil, "no model description in the metadata (was it written by optim train --save?)")
        }
        if let problem = description.problem { throw DataFileError(path, nil, "the model description is invalid: \(problem)") }
        let model = description.makeModel()
        // Every tensor checked before anything is allocated for the model.
        for (name, shape) in model.parameterShapes {
            guard let saved = tensors[name] else { throw DataFileError(path, nil, "tensor '\(name)' is missing") }
            guard saved.shape == shape else {
                throw DataFileError(path, nil, "tensor '\(name)' has shape \(saved.shape), the model needs \(shape)")
            }
        }
        let parameters = Parameters<Scalar>(shapes: model.parameterShapes)
        for tensor in parameters.tensors { parameters.values.assign(tensors[tensor.name]!.values(as: Scalar.self), at: tensor.offset) }
        return (model, parameters)
    }
}
