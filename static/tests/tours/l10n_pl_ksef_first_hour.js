/** @odoo-module */
/**
 * The first hour of a new user, clicked through (tests/test_tour.py prepares the data and checks the outcome):
 * connect the company with the set-up wizard, post an invoice and send it to KSeF until KSeF gives its number,
 * fetch a purchase invoice from KSeF and turn it into a draft vendor bill.
 * What the test knows (emulator URL, token, record ids) comes through sessionStorage: it survives page loads.
 */
import { registry } from "@web/core/registry";

function given() {
    return JSON.parse(sessionStorage.getItem("l10n_pl_ksef_tour") || "{}");
}

function go(path) {
    return {
        content: `Open ${path}`,
        trigger: "body",
        run: () => {
            window.location.href = path;
        },
        expectUnloadPage: true,
    };
}

registry.category("web_tour.tours").add("l10n_pl_ksef_first_hour", {
    steps: () => {
        const data = given();
        return [
            // 1. the connection, with the wizard from the settings
            {
                content: "Open the KSeF set-up wizard from the settings",
                trigger: "button:contains(Set up the KSeF connection)",
                run: "click",
            },
            {
                content: "Environment: another KSeF (the local emulator)",
                trigger: ".modal div[name=environment] select",
                run: 'select "custom"',
            },
            { trigger: ".modal div[name=custom_url] input", run: `edit ${data.url}` },
            { trigger: ".modal div[name=context_value] input", run: `edit ${data.nip}` },
            {
                content: "The company is an organisation",
                trigger: ".modal div[name=legal_form] input[data-value=entity]",
                run: "click",
            },
            {
                content: "It logs in with a KSeF token",
                trigger: ".modal div[name=entity_method] input[data-value=token]",
                run: "click",
            },
            { trigger: ".modal div[name=token] input", run: `edit ${data.token}` },
            {
                content: "Test the login and save",
                trigger: ".modal-footer button[name=action_save_and_test]",
                run: "click",
            },
            {
                content: "KSeF accepted the login",
                trigger: ".o_notification:contains(KSeF connection works)",
            },
            // 2. an invoice, posted and sent
            go(`/odoo/action-account.action_move_out_invoice_type/${data.invoice}`),
            { content: "Confirm the invoice", trigger: ".o_form_view button[name=action_post]", run: "click" },
            {
                content: "Send it to KSeF",
                trigger: ".o_form_view button[name=action_l10n_pl_ksef_send]",
                run: "click",
            },
            { content: "Open the KSeF tab", trigger: ".o_notebook a[name=l10n_pl_ksef]", run: "click" },
            {
                content: "KSeF accepted it: its KSeF number is on the invoice",
                trigger: `.o_form_view div[name=l10n_pl_ksef_number]:contains(${data.nip}-)`,
            },
            // 3. a purchase invoice, fetched and booked
            go("/odoo/ksef-received"),
            {
                content: "Fetch from KSeF now",
                trigger: ".o_list_view button[name=action_l10n_pl_ksef_fetch_now]",
                run: "click",
            },
            {
                content: "The supplier's invoice arrived",
                trigger: `.o_data_row td:contains(${data.supplierInvoice})`,
                run: "click",
            },
            {
                content: "Create its draft bill",
                trigger: ".o_form_view button[name=action_l10n_pl_ksef_create_bills]:contains(Create bill)",
                run: "click",
            },
            {
                content: "The draft vendor bill, with the supplier found by its NIP",
                trigger: `.o_form_view div[name=partner_id] input:value(${data.supplierName})`,
            },
            { content: "It is a draft", trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains(Draft)" },
        ];
    },
});
