/// A kind of error the realistic profile of `SampleDataGenerator` puts into a record (see
/// `SampleDataGenerator.ErrorProfile.realistic`); the raw values name the kinds in reports.
///
/// Every kind except `twin` marks a duplicate record: another record of the same person, with that error
/// compared with the person's first record (which is always clean). `twin` marks the records of a different
/// person who looks like an existing one.
public enum SampleErrorKind: String, CaseIterable, Sendable, Hashable, Comparable {
    /// Given name and surname swapped.
    case swappedNames
    /// The home address's AddressLine1 and AddressLine2 swapped (`Apt 4B` first, the street second).
    case swappedAddressLines
    /// The National ID with two adjacent digits transposed or one digit substituted.
    case identifierTypo
    /// The home postal code with one digit substituted or two adjacent digits transposed.
    case postcodeTypo
    /// The birth date with day and month swapped (when the day is at most 12 and not the month), one digit off
    /// by one, or two adjacent digits of yyyymmdd transposed; always a valid date.
    case birthDateTypo
    /// A typo (two letters transposed, one left out or one doubled) in the first or the last name.
    case nameTypo
    /// The given name replaced by one of its nicknames (`William` → `Bill`).
    case nickname
    /// Birth date, phones, email and/or identifiers left out (at least one of them).
    case missingValues
    /// Another email address altogether: the person's work address (`first.last@employer.com`) instead of the
    /// personal one.
    case otherEmail
    /// A different person (another person id: not a duplicate) with the last name, the home address (street,
    /// line 2, city, postal code) and the birth year of an existing one, a different birth day and month, email,
    /// phones and identifiers, and usually another first name (the same one in about 20%: a "Jr.").
    case twin

    public static func < (a: SampleErrorKind, b: SampleErrorKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
