/// Chooses operational values (`ov`).
///
/// Until survivorship groups are configured (match and merge issue), every
/// attribute uses LUD: the values contributed by the most recently updated
/// crosswalk that contributes to that attribute are operational. Ties go to the
/// crosswalk attached last. Sub-values of a nested value follow their parent.
public enum Survivorship {
    public static func lastUpdateWins(_ entity: inout Entity) {
        applyLastUpdateWins(to: &entity)
    }

    public static func applyLastUpdateWins(to entity: inout Entity) {
        var updateDate: [String: (Int64, Int)] = [:]
        for (position, c) in entity.crosswalks.enumerated() { updateDate[c.id] = (c.updateDate, position) }
        for ai in entity.attributes.indices {
            var winner: String?
            var best: (Int64, Int) = (Int64.min, -1)
            for v in entity.attributes[ai].values {
                for s in v.sources {
                    if let d = updateDate[s], d.0 > best.0 || (d.0 == best.0 && d.1 > best.1) {
                        best = d
                        winner = s
                    }
                }
            }
            for vi in entity.attributes[ai].values.indices {
                let ov = winner.map { entity.attributes[ai].values[vi].sources.contains($0) } ?? false
                entity.attributes[ai].values[vi].setOperational(ov)
            }
        }
    }
}

extension AttributeValue {
    /// Sets `ov` on the value and, for a nested value, on all its sub-values.
    public mutating func setOperational(_ ov: Bool) {
        self.ov = ov
        if case .nested(var subs) = content {
            for si in subs.indices {
                for vi in subs[si].values.indices { subs[si].values[vi].setOperational(ov) }
            }
            content = .nested(subs)
        }
    }
}
