import Optim
import Testing

/// AveragedModel and SWALR beyond the trajectories: torch's errors, and state that resumes.
@Suite("SWA and EMA")
struct SWATests {
    @Test("torch's messages for a decay outside [0, 1] and a negative anneal_epochs")
    func validation() throws {
        let parameters = Parameters<Double>([1, 2])
        #expect(throws: OptimError("Invalid decay value 1.5 provided. Please provide a value in [0,1] range.")) {
            try AveragedModel(parameters, average: .ema(decay: 1.5))
        }
        let optimizer = try SGD([parameters], lr: 0.1)
        #expect(throws: OptimError("anneal_epochs must be equal or greater than 0, got -1")) {
            try SWALR(optimizer, swaLR: 0.01, annealEpochs: -1)
        }
    }

    @Test("An average saved and loaded continues bitwise; a damaged state is refused and changes nothing")
    func stateRoundTrip() throws {
        let model = Parameters<Double>([0.5, -1, 2])
        let average = try AveragedModel(model)
        for k in 0..<5 {
            model.values.assign([0.5 + Double(k) * 0.1, -1 + Double(k * k) * 0.01, 2 - Double(k) / 7])
            average.updateParameters(model)
        }
        let resumed = try AveragedModel(Parameters<Double>([0, 0, 0]))
        try resumed.loadStateDict(average.stateDict())
        #expect(resumed.nAveraged == 5 && resumed.averaged.values.array == average.averaged.values.array)
        model.values.assign([3, 3, 3])
        average.updateParameters(model)
        resumed.updateParameters(model)
        #expect(resumed.averaged.values.array == average.averaged.values.array)
        let before = average.stateDict()
        for damaged in [["n_averaged": StateValue.number(-1), "averaged": before["averaged"]!],
                        ["n_averaged": .number(2), "averaged": .tensor([1, 2])],
                        ["averaged": before["averaged"]!]] {
            #expect(throws: OptimError.self) { try average.loadStateDict(damaged) }
            #expect(average.stateDict() == before)
        }
    }
}
