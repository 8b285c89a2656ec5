import Testing
@testable import VisualExtraction

@Suite struct ShardTests {
    @Test func parsesAndSlicesRoundRobin() throws {
        let shard = try Shard(parsing: "3/16")
        #expect(shard.index == 3 && shard.count == 16)
        #expect(shard.fileStem == "shard-0003-of-0016")
        #expect(shard.contains(position: 19) && !shard.contains(position: 20))
        for bad in ["16/16", "-1/4", "a/b", "3", "1/0"] {
            #expect(throws: Shard.ParseError.self) { try Shard(parsing: bad) }
        }
        // Balanced to within one record, and every position in exactly one shard.
        let sizes = (0..<7).map { i in (0..<1000).filter { Shard(index: i, count: 7).contains(position: $0) }.count }
        #expect(sizes.reduce(0, +) == 1000 && sizes.max()! - sizes.min()! <= 1)
    }

    @Test func schedulersAssignShardsThroughTheEnvironment() throws {
        #expect(try Shard.fromEnvironment([:]) == nil)
        #expect(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "8"]) == Shard(index: 5, count: 8))
        #expect(
            try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "6", "SLURM_ARRAY_TASK_COUNT": "8", "SLURM_ARRAY_TASK_MIN": "1"])
                == Shard(index: 5, count: 8))
        #expect(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "2", "VXT_SHARD_COUNT": "4"]) == Shard(index: 2, count: 4))
        #expect(throws: Shard.ParseError.self) { try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "2"]) }
        #expect(throws: Shard.ParseError.self) { try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_COUNT": "8"]) }
        // A rerun of some shards (`sbatch --array=1,3 --export=ALL,VXT_SHARD_COUNT=4`): Slurm says
        // the array has 2 tasks starting at 1; the shard is task 3 of the run's 4.
        #expect(
            try Shard.fromEnvironment([
                "SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_TASK_MIN": "1", "VXT_SHARD_COUNT": "4"
            ]) == Shard(index: 3, count: 4))
        #expect(throws: Shard.ParseError.self) {
            try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "1", "VXT_SHARD_COUNT": "4"])
        }
    }
}
