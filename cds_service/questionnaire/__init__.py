"""Documentation questionnaires (Da Vinci DTR style) generated from the policy files, and
the QuestionnaireResponse answers the assessment reads as documentation.

- `spec`: what a person can attest (mappings/questionnaire.yaml), checked at load.
- `build`: one Questionnaire per policy version × indication × phase.
- `answers`: completed responses in the chart → the Observations they stand for.
- `prefill`: an in-progress response for an assessment, open exactly where undocumented.
- `routes`: GET /fhir/Questionnaire…, POST /fhir/Questionnaire/$questionnaire-package.
- `form`, `documentation`: the checklist's documentation form and POST /smart/documentation.
"""
