/// Word lists for the sample-data generator (US-style person records).
enum Names {
    static let firstMale = [
        "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles",
        "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul", "Andrew", "Joshua",
        "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Edward", "Jason", "Jeffrey", "Ryan",
        "Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon",
        "Benjamin", "Samuel", "Gregory", "Alexander", "Frank", "Patrick", "Raymond", "Jack", "Dennis", "Jerry",
        "Tyler", "Aaron", "Jose", "Adam", "Nathan", "Henry", "Douglas", "Zachary", "Peter", "Kyle",
        "Walter", "Ethan", "Jeremy", "Harold", "Keith", "Christian", "Roger", "Noah", "Gerald", "Carl",
        "Terry", "Sean", "Austin", "Arthur", "Lawrence", "Jesse", "Dylan", "Bryan", "Joe", "Jordan",
    ]
    static let firstFemale = [
        "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
        "Lisa", "Nancy", "Betty", "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna", "Michelle",
        "Carol", "Amanda", "Dorothy", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon", "Laura", "Cynthia",
        "Kathleen", "Amy", "Angela", "Shirley", "Anna", "Brenda", "Pamela", "Emma", "Nicole", "Helen",
        "Samantha", "Katherine", "Christine", "Debra", "Rachel", "Carolyn", "Janet", "Catherine", "Maria", "Heather",
        "Diane", "Ruth", "Julie", "Olivia", "Joyce", "Virginia", "Victoria", "Kelly", "Lauren", "Christina",
        "Joan", "Evelyn", "Judith", "Megan", "Andrea", "Cheryl", "Hannah", "Jacqueline", "Martha", "Gloria",
        "Teresa", "Ann", "Sara", "Madison", "Frances", "Kathryn", "Janice", "Jean", "Abigail", "Alice",
    ]
    static let last = [
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
        "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
        "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
        "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
        "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes",
        "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper",
        "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson",
        "Watson", "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes",
        "Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez",
        "Powell", "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes",
        "Gonzales", "Fisher", "Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton", "Graham",
        "Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes", "Bryant", "Herrera", "Gibson",
        "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray", "Ford", "Castro", "Marshall", "Owens",
        "Harrison", "Fernandez", "McDonald", "Woods", "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen",
    ]
    /// Common nicknames, as source systems record them.
    static let nicknames: [String: String] = [
        "William": "Bill", "Robert": "Bob", "Richard": "Dick", "James": "Jim", "John": "Jack", "Michael": "Mike",
        "Thomas": "Tom", "Charles": "Chuck", "Christopher": "Chris", "Daniel": "Dan", "Matthew": "Matt",
        "Anthony": "Tony", "Joseph": "Joe", "Steven": "Steve", "Andrew": "Andy", "Kenneth": "Ken", "Edward": "Ed",
        "Jeffrey": "Jeff", "Nicholas": "Nick", "Jonathan": "Jon", "Benjamin": "Ben", "Samuel": "Sam",
        "Gregory": "Greg", "Alexander": "Alex", "Patrick": "Pat", "Elizabeth": "Liz", "Margaret": "Peggy",
        "Patricia": "Patty", "Jennifer": "Jenny", "Susan": "Sue", "Jessica": "Jess", "Kimberly": "Kim",
        "Deborah": "Debbie", "Rebecca": "Becky", "Katherine": "Kate", "Catherine": "Cathy", "Samantha": "Sam",
        "Victoria": "Vicky", "Christina": "Tina", "Abigail": "Abby", "Dorothy": "Dot", "Pamela": "Pam",
    ]
    /// The realistic profile's nicknames: every formal name of `firstMale` and `firstFemale` that has common
    /// nicknames, the classic one (`nicknames`, which stays as it is: the classic output depends on it) first.
    static let realisticNicknames: [String: [String]] = {
        var table: [String: [String]] = [
            "James": ["Jimmy", "Jamie"], "John": ["Johnny"], "Robert": ["Rob", "Bobby"], "Michael": ["Mick"],
            "William": ["Will", "Billy"], "David": ["Dave"], "Richard": ["Rick", "Rich"], "Joseph": ["Joey"],
            "Thomas": ["Tommy"], "Charles": ["Charlie"], "Daniel": ["Danny"], "Donald": ["Don"],
            "Andrew": ["Drew"], "Joshua": ["Josh"], "Kenneth": ["Kenny"], "Ronald": ["Ron", "Ronnie"],
            "Edward": ["Eddie", "Ted"], "Timothy": ["Tim"], "Jacob": ["Jake"], "Stephen": ["Steve"],
            "Lawrence": ["Larry"], "Raymond": ["Ray"], "Gerald": ["Jerry"], "Zachary": ["Zach"], "Peter": ["Pete"],
            "Walter": ["Walt"], "Harold": ["Harry", "Hal"], "Douglas": ["Doug"], "Nathan": ["Nate"],
            "Henry": ["Hank"], "Arthur": ["Art"], "Dennis": ["Denny"], "Patricia": ["Pat", "Trish"],
            "Jennifer": ["Jen"], "Elizabeth": ["Beth", "Betsy"], "Barbara": ["Barb"], "Susan": ["Suzy"],
            "Margaret": ["Maggie", "Meg"], "Deborah": ["Deb"], "Katherine": ["Kathy"], "Catherine": ["Kate"],
            "Christina": ["Chris"], "Dorothy": ["Dottie"], "Sandra": ["Sandy"], "Amanda": ["Mandy"],
            "Cynthia": ["Cindy"], "Kathleen": ["Kathy"], "Angela": ["Angie"], "Carolyn": ["Carol"],
            "Debra": ["Debbie", "Deb"], "Janet": ["Jan"], "Jacqueline": ["Jackie"], "Virginia": ["Ginny"],
            "Judith": ["Judy"], "Teresa": ["Terri"], "Frances": ["Fran"], "Kathryn": ["Kathy", "Kate"],
            "Stephanie": ["Steph"], "Melissa": ["Missy"], "Christine": ["Chris", "Tina"], "Victoria": ["Tori"],
        ]
        for (formal, nickname) in nicknames {
            table[formal] = [nickname] + (table[formal] ?? []).filter { $0 != nickname }
        }
        return table
    }()
    static let middle = ["A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S", "T", "W"]
    static let streets = [
        "Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Pine St", "Elm St", "Washington Blvd", "Lake View Rd",
        "Hillside Ave", "Park Pl", "Sunset Blvd", "River Rd", "Church St", "Highland Ave", "Forest Dr", "Spring St",
        "Madison Ave", "Jefferson St", "Lincoln Way", "Franklin Ct", "Broadway", "Chestnut St", "Walnut St",
        "Willow Way", "Meadow Ln", "Ridge Rd", "Valley View Dr", "Harbor Blvd", "Mill St", "Bridge St",
    ]
    /// City, state, ZIP prefix.
    static let cities: [(String, String, String)] = [
        ("New York", "NY", "100"), ("Los Angeles", "CA", "900"), ("Chicago", "IL", "606"), ("Houston", "TX", "770"),
        ("Phoenix", "AZ", "850"), ("Philadelphia", "PA", "191"), ("San Antonio", "TX", "782"),
        ("San Diego", "CA", "921"), ("Dallas", "TX", "752"), ("San Jose", "CA", "951"), ("Austin", "TX", "787"),
        ("Jacksonville", "FL", "322"), ("Columbus", "OH", "432"), ("Charlotte", "NC", "282"),
        ("Indianapolis", "IN", "462"), ("Seattle", "WA", "981"), ("Denver", "CO", "802"), ("Boston", "MA", "021"),
        ("Nashville", "TN", "372"), ("Portland", "OR", "972"), ("Atlanta", "GA", "303"), ("Miami", "FL", "331"),
        ("Minneapolis", "MN", "554"), ("Detroit", "MI", "482"), ("Baltimore", "MD", "212"),
        ("Milwaukee", "WI", "532"), ("Albuquerque", "NM", "871"), ("Tucson", "AZ", "857"), ("Fresno", "CA", "937"),
        ("Sacramento", "CA", "958"),
    ]
    static let occupations = [
        "Accountant", "Architect", "Nurse", "Teacher", "Software Engineer", "Electrician", "Pharmacist",
        "Sales Manager", "Attorney", "Physician", "Graphic Designer", "Mechanic", "Chef", "Data Analyst",
        "Project Manager", "Dentist", "Civil Engineer", "Marketing Specialist", "Paralegal", "Librarian",
    ]
    static let employers = [
        "Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Industries", "Wayne Enterprises", "Hooli",
        "Vandelay Industries", "Soylent Foods", "Wonka Industries", "Cyberdyne Systems", "Tyrell Corp",
        "Massive Dynamic", "Gringotts Bank", "Oceanic Airlines", "Blue Sun", "Monarch Solutions", "Pied Piper",
    ]
    static let emailDomains = ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com", "proton.me"]
    static let languages = ["English", "Spanish", "French", "German", "Chinese", "Vietnamese", "Korean"]
    static let tiers = ["Bronze", "Silver", "Gold", "Platinum"]
    static let marital = ["Single", "Married", "Divorced", "Widowed"]
}
