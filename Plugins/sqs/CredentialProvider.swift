import HeraldSinkSupport
import Synchronization

/// The signer every request of an instance is signed with, and where its credentials come from.
///
/// Credentials from the configuration or the environment never change. Credentials from a shared
/// credentials file are re-read when the file changes: before signing, at most once per
/// `checkInterval`, the file is `stat`ed, and when its stamp (inode, size, times) differs from the
/// version read last, it is read again and, if its profile holds usable credentials, a new signer
/// replaces the old one at once (requests already signed keep theirs). A file that is missing,
/// unreadable or malformed is logged (once per version, path, line and problem, never a value) and
/// the previous credentials stay in use. Safe to share between threads.
public final class CredentialProvider: Sendable {
    /// How often the file is checked at most.
    public static let defaultCheckInterval: Duration = .seconds(1)
    /// A version younger than this is read again at the next check even if its stamp is the same:
    /// the writer may not be done with it.
    static let settleSeconds: Int64 = 2

    public let source: CredentialSource
    let region: String
    let service: String
    let checkInterval: Duration
    let reporter: (any SinkReporter)?
    private let state: Mutex<State>

    struct State {
        var signer: SigV4Signer
        /// The version read last (nil: not read since start, or gone).
        var stamp: FileStamp?
        /// Whether `stamp` is old enough to trust; if not, the next check reads the file again.
        var settled = false
        var nextCheck: ContinuousClock.Instant
        var checking = false
        /// Why the file's current version is not in use (logged once per text).
        var problem: String?
    }

    /// - Parameters:
    ///   - credentials: the credentials resolved at create time (read from the file when `source` is one).
    ///   - reporter: where reloads and problems with the file are logged.
    public init(
        credentials: AWSCredentials, source: CredentialSource, region: String, service: String = "sqs",
        checkInterval: Duration = CredentialProvider.defaultCheckInterval, reporter: (any SinkReporter)? = nil
    ) {
        self.source = source
        self.region = region
        self.service = service
        self.checkInterval = checkInterval
        self.reporter = reporter
        // No stamp yet: the first check reads the file again (it may have changed since it was resolved).
        state = Mutex(
            State(
                signer: SigV4Signer(credentials: credentials, region: region, service: service),
                nextCheck: .now + checkInterval))
    }

    /// Fixed credentials already in a signer (tests, tools).
    public convenience init(signer: SigV4Signer, source: CredentialSource = .configuration) {
        self.init(credentials: signer.credentials, source: source, region: signer.region, service: signer.service)
    }

    /// The signer to sign the next request with: checks the file first when one is due.
    public func signer() -> SigV4Signer {
        if case .sharedFile(let path, let profile) = source {
            let now = ContinuousClock.now
            let due = state.withLock { s -> (stamp: FileStamp?, settled: Bool)? in
                guard !s.checking, now >= s.nextCheck else { return nil }
                s.checking = true
                return (s.stamp, s.settled)
            }
            if let due { refresh(path: path, profile: profile, known: due.stamp, settled: due.settled) }
        }
        return state.withLock { $0.signer }
    }

    /// The credentials in use now.
    public var credentials: AWSCredentials { state.withLock { $0.signer.credentials } }

    /// Why the file's current version is not in use, if it is not.
    public var problem: String? { state.withLock { $0.problem } }

    /// `key AKIA… from the credentials file …, profile […]`, with the file's problem when there is one
    /// (for error texts; never the secret).
    public func describe(_ signer: SigV4Signer) -> String {
        var text = "key \(signer.credentials.accessKeyId) from \(source)"
        if let problem { text += " (its latest version is not used: \(problem))" }
        return text
    }

    /// Reads the file again if its stamp changed (or was not settled) and swaps the signer.
    private func refresh(path: String, profile: String, known: FileStamp?, settled: Bool) {
        var newSigner: SigV4Signer?
        var stamp = known
        var problem: String?
        switch CredentialsFileReader.stamp(path) {
        case .failure(let error):
            stamp = nil
            problem = "\(error.description); still signing with the credentials read before"
        case .success(let current) where current == known && settled:
            break
        case .success:
            do {
                let (text, read) = try CredentialsFileReader.load(path)
                stamp = read
                let credentials = try SharedCredentialsFile.parse(text, path: path).credentials(profile: profile)
                if credentials != state.withLock({ $0.signer.credentials }) {
                    newSigner = SigV4Signer(credentials: credentials, region: region, service: service)
                }
            } catch {
                problem = "\(error.description); still signing with the credentials read before"
            }
        }
        let unchanged = stamp == known && settled
        let (report, cleared) = state.withLock { s -> (report: String?, cleared: Bool) in
            defer {
                s.checking = false
                s.nextCheck = .now + checkInterval
            }
            if unchanged { return (nil, false) }
            s.stamp = stamp
            s.settled = stamp.map { !$0.isRecent(seconds: CredentialProvider.settleSeconds) } ?? false
            if let newSigner { s.signer = newSigner }
            let previous = s.problem
            s.problem = problem
            return (problem != previous ? problem : nil, previous != nil && problem == nil)
        }
        if let newSigner {
            reporter?.log(
                .info,
                "sqs sink: credentials reloaded from \(path), profile [\(profile)]: key \(newSigner.credentials.accessKeyId)"
                    + (newSigner.credentials.sessionToken == nil ? "" : " with a session token"))
        } else if cleared {
            reporter?.log(.info, "sqs sink: the credentials file \(path) is usable again (the same credentials)")
        }
        if let report { reporter?.log(.error, "sqs sink: \(report)") }
    }
}
