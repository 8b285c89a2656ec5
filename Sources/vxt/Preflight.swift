import ArgumentParser
import VisualExtraction

extension ImagePreflight {
    /// The input and `--images` checks as `vxt run` and `vxt batch export` show them: a note when
    /// some of the first records miss their image, exit status 3 when none can work.
    func runForCommand(_ command: String) throws {
        do {
            let report = try run()
            if report.sampled > 0 && report.resolved < report.sampled {
                Output.info(
                    "preflight: \(report.sampled - report.resolved) of the first \(report.sampled) records with an image "
                        + "do not find it under --images \(imagesRoot); they will fail as image_missing")
            }
        } catch {
            Output.info("vxt \(command): preflight failed: \(error)")
            throw ExitCode(3)
        }
    }
}
