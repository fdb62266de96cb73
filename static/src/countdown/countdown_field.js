import { Component, onWillUnmount, useState } from "@odoo/owl";
import { formatDateTime } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

/**
 * The time left to sign a KSeF login request (the challenge lasts ten minutes), counting down every second and
 * saying plainly when it has run out, so nobody uploads a signature KSeF will refuse.
 */
export class KsefCountdownField extends Component {
    static template = "l10n_pl_ksef.CountdownField";
    static props = { ...standardFieldProps };

    setup() {
        this.state = useState({ now: Date.now() });
        const timer = setInterval(() => (this.state.now = Date.now()), 1000);
        onWillUnmount(() => clearInterval(timer));
    }

    get deadline() {
        return this.props.record.data[this.props.name];
    }

    get secondsLeft() {
        return this.deadline ? Math.max(0, Math.floor((this.deadline.toMillis() - this.state.now) / 1000)) : 0;
    }

    get label() {
        if (!this.deadline) {
            return "";
        }
        if (!this.secondsLeft) {
            return _t("Expired: prepare a new login request and sign it again.");
        }
        const minutes = Math.floor(this.secondsLeft / 60);
        const seconds = String(this.secondsLeft % 60).padStart(2, "0");
        return _t("%(time)s left (until %(deadline)s)", {
            time: `${minutes}:${seconds}`,
            deadline: formatDateTime(this.deadline),
        });
    }

    get className() {
        if (!this.secondsLeft) {
            return "text-danger fw-bold";
        }
        return this.secondsLeft < 120 ? "text-warning fw-bold" : "text-success";
    }
}

registry.category("fields").add("l10n_pl_ksef_countdown", {
    component: KsefCountdownField,
    displayName: _t("KSeF signing countdown"),
    supportedTypes: ["datetime"],
});
