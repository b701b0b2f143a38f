"""croissant.json: a Croissant (MLCommons) JSON-LD description of one release folder.

It is made from that folder's own datapackage.json and nothing else about the data: a sealed
release was built with the schemas of its day, and its datapackage.json is the record of them
(schemas/ may have moved on since). Croissant 1.1, the version mlcroissant 1.1.1 writes and the
first with `isArray`, which the Atlas's list columns need. tests/test_metadata_validators.py
validates every release's description with mlcroissant and loads records through it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from pipeline.site.config import Publication

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
FILE_NAME = "croissant.json"

# The @context mlcroissant 1.1.1 writes for Croissant 1.1; with any key missing it logs that the
# context "is not standard", so it is copied whole rather than trimmed to the keys used here.
CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

# Data Package field types -> Croissant data types. "array" is not here: a list column is a
# field of its item type with isArray.
DATA_TYPES = {
    "string": "sc:Text",
    "integer": "sc:Integer",
    "number": "sc:Float",
    "boolean": "sc:Boolean",
    "date": "sc:Date",
}
# Croissant names Parquet by the media type mlcroissant reads it by, not the IANA-registered
# application/vnd.apache.parquet that datapackage.json gives.
PARQUET = "application/x-parquet"


class CroissantError(ValueError):
    """A datapackage.json that Croissant cannot describe (an unknown field type, a bad hash)."""


def _url(publication: Publication, date: str, file_name: str) -> str:
    """Relative to the release folder while the site has no home, else absolute under it."""
    return publication.url(f"{date}/{file_name}") or file_name


def _file_object(resource: dict, date: str, publication: Publication) -> dict:
    algorithm, _, digest = resource["hash"].partition(":")
    if algorithm != "sha256" or len(digest) != 64:
        raise CroissantError(f"resource {resource['name']}: expected a sha256 hash, "
                             f"got {resource['hash']!r}")
    fmt = PARQUET if resource.get("format") == "parquet" else resource["mediatype"]
    return {
        "@type": "cr:FileObject",
        "@id": resource["path"],
        "name": resource["path"],
        "description": resource["description"],
        "contentUrl": _url(publication, date, resource["path"]),
        "encodingFormat": fmt,
        "contentSize": f"{resource['bytes']} B",
        "sha256": digest,
    }


def _field(table: str, file_id: str, field: dict) -> dict:
    is_array = field["type"] == "array"
    # An array's items are strings unless datapackage.json says otherwise (Table Schema v2's
    # default for arrayItem-less arrays is any JSON, but the Atlas only writes lists of text).
    kind = field.get("arrayItem", {}).get("type", "string") if is_array else field["type"]
    if kind not in DATA_TYPES:
        raise CroissantError(f"{table}.{field['name']}: no Croissant type for {kind!r}")
    out = {"@type": "cr:Field", "@id": f"{table}/{field['name']}", "name": field["name"]}
    if field.get("description"):
        out["description"] = field["description"]
    out["dataType"] = DATA_TYPES[kind]
    out["source"] = {"fileObject": {"@id": file_id}, "extract": {"column": field["name"]}}
    if is_array:
        out["isArray"] = True
        out["arrayShape"] = "-1"
    return out


def _record_set(resource: dict) -> dict:
    # The foreign keys stay in datapackage.json: Croissant's `references` reads as a join to
    # mlcroissant, which then fails on the Atlas's self-references (models.base_model_ids,
    # investments.part_of) as a cycle, and cannot say "a jurisdiction or a region" at all.
    table, schema = resource["name"], resource["schema"]
    record_set = {"@type": "cr:RecordSet", "@id": table, "name": table}
    if resource.get("description"):
        record_set["description"] = resource["description"]
    record_set["field"] = [_field(table, resource["path"], f) for f in schema["fields"]]
    key = schema.get("primaryKey") or []
    if key:
        ids = [{"@id": f"{table}/{name}"} for name in key]
        record_set["key"] = ids[0] if len(ids) == 1 else ids
    return record_set


def croissant_metadata(release_dir: Path, publication: Publication) -> dict:
    """The Croissant JSON-LD of the release in release_dir, from its datapackage.json alone."""
    package = json.loads((release_dir / "datapackage.json").read_text(encoding="utf-8"))
    date = package["version"]
    resources = package["resources"]
    metadata = {
        "@context": copy.deepcopy(CONTEXT),
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": package["title"],
        "description": package["description"],
        "license": [licence["path"] for licence in package["licenses"]],
        "version": date,
        "datePublished": date,
        "citeAs": package["citation"],
        "creator": {"@type": "sc:Organization", "name": publication.authors},
        "url": _url(publication, date, "index.html"),
        "distribution": [_file_object(r, date, publication) for r in resources],
        "recordSet": [_record_set(r) for r in resources if r.get("type") == "table"],
    }
    if len(metadata["license"]) == 1:
        metadata["license"] = metadata["license"][0]
    return metadata


def write_croissant(release_dir: Path, target: Path, publication: Publication) -> Path:
    """Writes croissant_metadata(release_dir) to target (a file path) and returns it."""
    metadata = croissant_metadata(release_dir, publication)
    text = json.dumps(metadata, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8", newline="\n")
    return target
