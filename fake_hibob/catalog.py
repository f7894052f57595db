"""What the fake tenant's employee tables and custom tables hold: columns and named lists.

Pure declarations, shared by the metadata routes, the row generators and the named lists
(docs/development/hibob-api.md, "Employee tables" and "Custom tables"). Columns are the data
columns the row generators of fake_hibob/tables.py produce; the bookkeeping every row has
(id, effectiveDate, ..., change) is not a column. Custom columns (`custom: true`) arrive in
each row's `customColumns`.
"""

from __future__ import annotations

from typing import Any

# Bookkeeping keys of table rows: not listed as columns.
BOOKKEEPING = (
    "id",
    "effectiveDate",
    "endEffectiveDate",
    "activeEffectiveDate",
    "isCurrent",
    "canBeDeleted",
    "creationDate",
    "modificationDate",
    "change",
)
# Field category id -> the People section whose permissions govern a table in it.
CATEGORY_SECTIONS = {
    "work": "Work",
    "employment": "Employment",
    "lifecycle": "Lifecycle",
    "payroll": "Payroll",
    "address": "Address",
    "home": "Home",
    "identification": "Identification",
    "training": "Training",
}


def column(
    column_id: str,
    name: str,
    kind: str,
    list_id: str | None = None,
    *,
    custom: bool = False,
    mandatory: bool = False,
) -> dict[str, Any]:
    """One column of an employee table's metadata."""
    return {
        "id": column_id,
        "name": name,
        "type": kind,
        "typeData": {"listId": list_id} if list_id else {},
        "mandatory": mandatory,
        "custom": custom,
    }


def _table(
    table_id: str, name: str, category: str, historical: bool, columns: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": table_id,
        "name": name,
        "category": category,
        "description": None,
        "historical": historical,
        "columns": columns,
    }


WORK_LOCATION = "column_1644862416222"
BONUS_TARGET = "column_1655996461265"
COST_CENTRE = "column_1672903021001"

# fmt: off
BUILT_IN_TABLES: list[dict[str, Any]] = [
    _table("work", "Work", "work", True, [
        column("workChangeType", "Change type", "list", "workChangeType"),
        column("title", "Job title", "list", "title"),
        column("department", "Department", "list", "department"),
        column("site", "Site name", "text"),
        column("siteId", "Site", "list_id", "site", mandatory=True),
        column("reportsTo", "Reports to", "employee"),
        column(WORK_LOCATION, "Work location", "list", f"work.{WORK_LOCATION}", custom=True),
    ]),
    _table("employment", "Employment", "employment", True, [
        column("contract", "Contract", "list", "employmentstatus"),
        column("type", "Employment type", "list", "payrollEmploymentType"),
        column("salaryPayType", "Salary pay type", "list", "salaryPayType"),
        column("flsaCode", "FLSA code", "list", "flsaCode"),
        column("fte", "FTE %", "number"),
        column("weeklyHours", "Weekly hours", "number"),
        column("hoursInDayNotWorked", "Hours in day not worked", "number"),
        column("calendarId", "Calendar", "list_id", "calendar"),
        column("calendarName", "Calendar name", "text"),
        column("actualWorkingPattern", "Actual working pattern", "working_pattern"),
        column("siteWorkingPattern", "Site working pattern", "working_pattern"),
        column("standardWorkingPattern", "Standard working pattern", "working_pattern"),
        column("standardWorkingPatternId", "Full time working pattern", "list_id",
               "workingPattern_entity_list"),
        column("personalWorkingPatternType", "Personal working pattern type", "list",
               "personalWorkingPatternType"),
        column("workingPattern", "Working pattern", "working_pattern"),
        column(BONUS_TARGET, "Bonus target %", "number", custom=True),
    ]),
    _table("lifecycle", "Lifecycle", "lifecycle", True, [
        column("status", "Lifecycle status", "list", "lifecycleStatus", mandatory=True),
        column("employeeStatus", "Status", "list", "status"),
        column("reasonType", "Reason type", "list", "reasonType"),
        column("leaveReason", "Leave reason", "list", "leaveReason"),
        column("workChangeType", "Change type", "list", "workChangeType"),
    ]),
    _table("salaries", "Salary", "payroll", True, [
        column("base", "Base salary", "currency", mandatory=True),
        column("payPeriod", "Salary pay period", "list", "payPeriod"),
        column("payFrequency", "Salary pay frequency", "list", "payFrequency"),
        column("workChangeType", "Change type", "list", "workChangeType"),
        column(COST_CENTRE, "Cost centre", "text", custom=True),
    ]),
    _table("variable", "Variable pay", "payroll", False, [
        column("variableType", "Variable type", "list", "variableType"),
        column("amount", "Amount", "currency"),
        column("paymentPeriod", "Payment period", "list", "paymentPeriod"),
        column("companyPercent", "Company %", "number"),
        column("departmentPercent", "Department %", "number"),
        column("individualPercent", "Individual %", "number"),
        column("percentageOfAnnualSalary", "% of annual salary", "number"),
        column("payoutType", "Payout type", "list", "payoutType"),
    ]),
    _table("equities", "Equity", "payroll", False, [
        column("quantity", "Quantity", "number"),
        column("equityType", "Equity type", "list", "equityType"),
        column("grantType", "Grant type", "list", "grantType"),
        column("grantStatus", "Grant status", "list", "grantStatus"),
        column("grantDate", "Grant date", "date"),
        column("vestingCommencementDate", "Vesting commencement date", "date"),
        column("vestingSchedule", "Vesting schedule", "list", "vestingSchedule"),
        column("vestingTerm", "Vesting term", "text"),
        column("optionExpiration", "Option expiration", "date"),
        column("exercisePrice", "Exercise price", "currency"),
        column("grantAmount", "Grant amount", "currency"),
        column("grantNumber", "Grant number", "text"),
        column("consentNumber", "Consent number", "text"),
        column("taxPlan", "Tax plan", "list", "taxPlan"),
        column("specialTerms", "Special terms", "text-area"),
    ]),
    _table("deduction", "Deductions", "payroll", False, [
        column("deductionType", "Deduction type", "list", "deductionType", mandatory=True),
        column("amount", "Amount", "currency"),
        column("percentage", "Percentage", "number"),
    ]),
    _table("entitlement", "Entitlements", "payroll", False, [
        column("entitlementType", "Entitlement type", "list", "entitlementType",
               mandatory=True),
        column("amount", "Amount", "currency"),
        column("percentage", "Percentage", "number"),
        column("frequency", "Frequency", "list", "entitlementFrequency"),
    ]),
    _table("dependents", "Children or dependents", "home", False, [
        column("firstName", "First name", "text", mandatory=True),
        column("surname", "Last name", "text"),
        column("relation", "Relation", "list", "dependentRelation"),
        column("birthDate", "Date of birth", "date"),
        column("gender", "Gender", "list", "gender"),
        column("isFullTimeStudent", "Full-time student", "boolean"),
    ]),
    _table("right-to-work", "Right to work", "identification", False, [
        column("documentType", "Document type", "list", "rightToWorkDocumentType",
               mandatory=True),
        column("country", "Country", "list", "countries"),
        column("documentNumber", "Document number", "text"),
        column("issueDate", "Issue date", "date"),
        column("expiryDate", "Expiry date", "date"),
    ]),
    _table("training", "Training", "training", False, [
        column("name", "Name", "text", mandatory=True),
        column("description", "Description", "text-area"),
        column("cost", "Cost", "currency"),
        column("status", "Status", "list", "trainingStatus"),
        column("frequency", "Frequency", "list", "trainingFrequency"),
        column("startDate", "Start date", "date"),
        column("endDate", "End date", "date"),
        column("documentId", "Document", "number"),
    ]),
]
# fmt: on
BUILT_IN_IDS = tuple(t["id"] for t in BUILT_IN_TABLES)

# Named lists of table columns whose row values are item ids. Where rows carry labels
# (as HiBob's tables do for contract, pay period, ...), the item id is the label itself.
TABLE_LISTS: dict[str, list[tuple[str, str]]] = {
    "workChangeType": [
        (x, x) for x in ("New Employee", "Reorganisation", "Promotion", "Transfer")
    ],
    f"work.{WORK_LOCATION}": [(x, x) for x in ("Remote", "Hybrid", "Office")],
    "employmentstatus": [(x, x) for x in ("Full time", "Part time", "Contractor")],
    "payrollEmploymentType": [(x, x) for x in ("Permanent", "Temporary")],
    "salaryPayType": [(x, x) for x in ("Salaried", "Hourly")],
    "flsaCode": [(x, x) for x in ("Exempt", "Non-exempt")],
    # calendarId is 3110 + siteId % 3 (fake_hibob/tables.py).
    "calendar": [("3110", "Tel Aviv (Demo) holidays"), ("3111", "London (Demo) holidays"),
                 ("3112", "New York (Demo) holidays")],
    "personalWorkingPatternType": [(x, x) for x in ("Fixed", "Flexible")],
    "reasonType": [(x, x) for x in ("Resignation", "Dismissal", "End of contract")],
    "leaveReason": [(x, x) for x in ("Parental leave", "Sabbatical")],
    "payPeriod": [(x, x) for x in ("Annual", "Hourly", "Daily", "Weekly", "Monthly")],
    "payFrequency": [
        (x, x)
        for x in ("Weekly", "Monthly", "Pro rata", "Every two weeks", "Twice a month",
                  "Every four weeks")
    ],
    "variableType": [(x, x) for x in ("Bonus", "Commission")],
    "paymentPeriod": [(x, x) for x in ("Annual", "Quarterly")],
    "payoutType": [(x, x) for x in ("Fixed", "Percentage")],
    "equityType": [(x, x) for x in ("Options", "RSU")],
    "grantType": [(x, x) for x in ("Initial Grant", "Merit Grant")],
    "grantStatus": [(x, x) for x in ("Granted", "Cancelled")],
    "vestingSchedule": [("1", "4 years, 1 year cliff"), ("2", "4 years monthly")],
    "taxPlan": [(x, x) for x in ("EMI", "ISO", "NSO")],
    "deductionType": [("1", "Pension"), ("2", "Health insurance"), ("3", "Union dues"),
                      ("4", "Cycle to work")],
    "entitlementType": [("1", "Company car"), ("2", "Phone allowance"), ("3", "Meal vouchers"),
                        ("4", "Gym membership")],
    "entitlementFrequency": [(x, x) for x in ("Monthly", "Annual", "One-off")],
    "dependentRelation": [(x, x) for x in ("Child", "Stepchild", "Spouse", "Partner")],
    "gender": [(x, x) for x in ("Female", "Male", "Non-binary")],
    "rightToWorkDocumentType": [("1", "Passport"), ("2", "Visa"), ("3", "Work permit"),
                                ("4", "Residence permit")],
    "trainingStatus": [(x, x) for x in ("Not started", "In progress", "Completed")],
    "trainingFrequency": [(x, x) for x in ("One time", "Annual", "Every two years")],
    "payType": [("1", "Salary"), ("2", "Bonus"), ("3", "Overtime"), ("4", "Expenses")],
}  # fmt: skip

# Custom tables ---------------------------------------------------------------------------

CERTIFICATIONS = "root__table_1791380280851"
EQUIPMENT = "root__table_1791380290123"
EQUIPMENT_CATEGORY = "category_1720508362305"  # the custom field category "Equipment"


def _custom_column(
    column_id: str,
    name: str,
    kind: str,
    list_id: str | None = None,
    *,
    mandatory: bool = False,
    description: str | None = None,
) -> dict[str, Any]:
    return {
        "id": column_id,
        "name": name,
        "description": description,
        "mandatory": mandatory,
        "type": kind,
        "typeData": {"listId": list_id} if list_id else {},
    }


# fmt: off
CUSTOM_TABLES: list[dict[str, Any]] = [
    {
        "id": CERTIFICATIONS,
        "name": "Certifications",
        "category": "work",
        "description": "Professional certifications",
        "columns": [
            _custom_column("column_1791380280852", "Certification", "text", mandatory=True),
            _custom_column("column_1791380280853", "Issued on", "date"),
            _custom_column("column_1791380280854", "Level", "list",
                           f"{CERTIFICATIONS}.column_1791380280854"),
            _custom_column("column_1791380280855", "Score", "number"),
            _custom_column("column_1791380280856", "Expires on", "date"),
        ],
    },
    {
        "id": EQUIPMENT,
        "name": "Equipment",
        "category": EQUIPMENT_CATEGORY,
        "description": None,
        "columns": [
            _custom_column("column_1791380290124", "Asset tag", "text", mandatory=True),
            _custom_column("column_1791380290125", "Value", "currency"),
            _custom_column("column_1791380290126", "Approved by", "employee-reference"),
            _custom_column("column_1791380290127", "Accessories", "multi-list",
                           f"{EQUIPMENT}.column_1791380290127"),
            _custom_column("column_1791380290128", "Receipt", "document",
                           description="Scanned receipt"),
        ],
    },
]
# fmt: on
CUSTOM_TABLE_LISTS: dict[str, list[tuple[str, str]]] = {
    f"{CERTIFICATIONS}.column_1791380280854": [
        ("1", "Foundation"),
        ("2", "Associate"),
        ("3", "Professional"),
        ("4", "Expert"),
    ],
    f"{EQUIPMENT}.column_1791380290127": [
        ("1", "Docking station"),
        ("2", "Second monitor"),
        ("3", "Headset"),
        ("4", "Keyboard"),
    ],
}
