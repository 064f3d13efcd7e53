"""The synthetic demo alliance: 滨江市城市医疗集团, its members, residents and their FHIR R4 records.

`yilian.demo.alliance.build_demo_alliance` returns the member Organizations, each member's
transaction Bundles and the linkage truth; everything is deterministic for a seed.
"""
