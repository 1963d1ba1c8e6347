"""Bulk imports (批量导入): a township's spreadsheet of residents, evacuations, donations or impact figures."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import Field

from models.common import Input, Output, Timestamp


class ImportKind(StrEnum):
    residents = "residents"
    evacuations = "evacuations"
    donations = "donations"
    impacts = "impacts"


ImportState = Literal["receiving", "queued", "running", "done", "failed"]


class ImportQuery(Input):
    kind: ImportKind = Field(description="What the file's rows are")
    dry_run: bool = Field(default=False, description="Validate every row and write nothing")


class ImportRowError(Output):
    row: int = Field(description="The row number as the spreadsheet shows it (the header is row 1)")
    column: str = Field(description="The column's header as the template names it; empty for the whole row")
    reason: str
    cells: dict[str, str] = Field(description="The row's values, ID numbers and phones masked")


class ImportCounts(Output):
    total: int | None = Field(description="Data rows in the file, once known")
    read: int = Field(description="Rows handled so far")
    written: int
    present: int = Field(description="Already in Relief: the same person, receipt or row key")
    duplicate: int = Field(description="Identical to an earlier row of the same file: written once")
    refused: int


class Import(Output):
    id: UUID
    incident_id: UUID
    kind: ImportKind
    dry_run: bool
    format: Literal["csv", "xlsx"]
    charset: str | None = Field(description="csv: the encoding it was read in (utf-8 or gb18030)")
    state: ImportState
    bytes: int
    counts: ImportCounts
    resumed: bool = Field(description="A run stopped (a crash) and another took the import up after its last "
                          "committed batch; the row keys make sure nothing is counted twice")
    attempts: int
    failure: str | None
    errors: list[ImportRowError] = Field(description="The first 100 refused rows; all of them at …/errors.csv")
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None


__all__ = ["Import", "ImportCounts", "ImportKind", "ImportQuery", "ImportRowError", "ImportState"]
