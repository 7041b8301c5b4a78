"""What an O3 site is, apart from how Pulumi builds it: the stack config model, what the vendor
guide fixes, the sizing table, site facts, image references and reading stack files.

Imports no Pulumi resources. The program (`components/`), the policy pack (`policy/`) and the
operator commands (`ops/`) all read it; it reads none of them. `sizing`, `imageref` and `facts`
use the standard library only, because the policy pack runs them in its own virtualenv.
"""
